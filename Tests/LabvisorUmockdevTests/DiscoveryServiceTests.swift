import Foundation
import LabvisorDriverTesting
import LabvisorHardware
import LabvisorServer
import LabvisorSimulation
import Logging
import ServiceLifecycle
import Testing

/// `DiscoveryService` in this process against a umockdev testbed: coldplug fills the
/// inventory before `coldplugFinished` returns; remove and add move the pinned instrument
/// to `gone` and back. Nothing opens the device (no client uses it).
@Suite(.serialized) struct DiscoveryServiceTests {
    @Test func coldplugFinishedReturnsOnceThePinnedDeviceIsAnInstrumentAndRemoveAndAddFollow() async throws {
        guard try await UmockdevReexec.runHere(suite: "DiscoveryServiceTests") else { return }
        let testbed = try UmockdevTestbed()
        try testbed.add(MockUSBRecords.ftdiTerminal)
        try testbed.add(MockUSBRecords.raw)  // claimed by nobody: left alone
        let configuration = try DaemonConfiguration.parse(
            """
            [[instrument]]
            name = "heater-u"
            driver = "example-heater"
            serial = "FT5XYZ12"
            """, file: "test.toml")
        let manifests = try DriverManifestLoader.load(searchPath: [UmockdevDaemonTests.root.appendingPathComponent("drivers").path])
        let supervisor = Supervisor(gracePeriod: .seconds(30))
        let service = DiscoveryService(
            supervisor: supervisor, configuration: configuration, manifests: manifests, settleWindow: .milliseconds(50),
            logger: Logger(label: "test"))
        #expect(!service.isColdplugDone)
        let group = ServiceGroup(services: [service], logger: Logger(label: "test"))
        let running = Task { try await group.run() }

        try await service.coldplugFinished(timeout: .seconds(10))
        #expect(service.isColdplugDone)
        #expect(supervisor.instrumentNames == ["heater-u"], "the pinned device only")
        let instrument = try supervisor.instrument("heater-u")
        #expect(instrument.identity?.serial == "FT5XYZ12")
        #expect(instrument.deviceLink.location == "/dev/ttyUSB0")
        #expect(instrument.lifecycle.state == .discovered)

        UmockdevDaemonTests.send("remove", to: testbed)
        try await eventually("gone") { instrument.lifecycle.state == .gone }
        #expect(instrument.absent?.reason.contains("unplugged from USB port 1-3") == true)
        UmockdevDaemonTests.send("add", to: testbed)
        try await eventually("re-attached") { instrument.lifecycle.state == .discovered }
        #expect(try supervisor.instrument("heater-u") === instrument, "the same instrument")
        #expect(instrument.absent == nil)

        try await stop(group, running: running)
        await supervisor.shutdown()
    }

    /// A configuration reload binds the devices present again: a pin renamed moves the device
    /// to the new name (the old instrument is removed with a reason naming the reload), a pin
    /// removed takes it from its instrument.
    @Test func reconfigureRebindsThePresentDevicesUnderTheNewPins() async throws {
        guard try await UmockdevReexec.runHere(suite: "DiscoveryServiceTests") else { return }
        let testbed = try UmockdevTestbed()
        try testbed.add(MockUSBRecords.ftdiTerminal)
        let pinned = { @Sendable (name: String) in
            try DaemonConfiguration.parse("[[instrument]]\nname = \"\(name)\"\ndriver = \"example-heater\"\nserial = \"FT5XYZ12\"\n", file: "test.toml")
        }
        let manifests = try DriverManifestLoader.load(searchPath: [UmockdevDaemonTests.root.appendingPathComponent("drivers").path])
        let supervisor = Supervisor(gracePeriod: .seconds(30))
        let recorded = RecordedEvents()
        let subscription = supervisor.events.subscribe(EventFilter(kinds: [.instrumentRemoved]))
        let pump = Task { for await event in subscription { recorded.publish(event) } }
        let service = DiscoveryService(
            supervisor: supervisor, configuration: try pinned("heater-u"), manifests: manifests, settleWindow: .milliseconds(50),
            logger: Logger(label: "test"))
        let group = ServiceGroup(services: [service], logger: Logger(label: "test"))
        let running = Task { try await group.run() }
        try await service.coldplugFinished(timeout: .seconds(10))
        #expect(supervisor.instrumentNames == ["heater-u"])

        try await withTimeLimit(.seconds(20)) {
            await service.reconfigure(try pinned("heater-v"), manifests: manifests)
            #expect(supervisor.instrumentNames == ["heater-v"])
            #expect(try supervisor.instrument("heater-v").identity?.serial == "FT5XYZ12")
            let removed = try await recorded.waitFor("heater-u's removal") { $0.instrument == "heater-u" }
            #expect(
                removed.fields["reason"]?.string
                    == "instrument heater-u was removed by a configuration reload: its device \(try supervisor.instrument("heater-v").identityKey) is now instrument heater-v")

            await service.reconfigure(DaemonConfiguration(), manifests: manifests)
            #expect(!supervisor.instrumentNames.contains("heater-v"), "\(supervisor.instrumentNames)")
            _ = try await recorded.waitFor("heater-v's removal") { $0.instrument == "heater-v" }
        }

        try await stop(group, running: running)
        pump.cancel()
        await supervisor.shutdown()
    }

    /// Polls `condition` (bounded: 10 s).
    /// Shuts the group down gracefully, cancelling it if that takes more than 10 s.
    private func stop(_ group: ServiceGroup, running: Task<Void, any Error>) async throws {
        await group.triggerGracefulShutdown()
        let stopped = Task {
            try await Task.sleep(for: .seconds(10))
            running.cancel()
        }
        try await running.value
        stopped.cancel()
    }

    private func eventually(_ what: String, _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while !condition() {
            guard ContinuousClock.now < deadline else { throw LabvisorError(.timeout, "\(what): not within 10 s") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}
