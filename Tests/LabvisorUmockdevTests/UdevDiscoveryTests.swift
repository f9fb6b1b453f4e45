import LabvisorDriverTesting
import LabvisorCore
import LabvisorHardware
import LabvisorSimulation
import Logging
import ServiceLifecycle
import Testing

/// The real libudev code of `UdevDiscovery` against umockdev testbeds. One testbed per
/// process at a time, so the tests run one after another. Each test re-runs itself under
/// `umockdev-wrapper` when this process lacks the preload (`UmockdevReexec`).
@Suite(.serialized) struct UdevDiscoveryTests {
    @Test func coldplugReportsEveryDeviceWithItsExactIdentityThenTheMarker() async throws {
        guard try await UmockdevReexec.runHere(suite: "UdevDiscoveryTests") else { return }
        let testbed = try UmockdevTestbed()
        try testbed.add(MockUSBRecords.rootHub)
        try testbed.add(MockUSBRecords.ftdi)
        try testbed.add(MockUSBRecords.raw)
        let harness = DiscoveryHarness()
        let events = try await harness.waitForEvents(3)
        try await Task.sleep(for: .milliseconds(100))
        #expect(harness.events.count == 3)  // the root hub is not reported
        #expect(events.last == .coldplugComplete)
        let added = events.compactMap { event -> DeviceIdentity? in
            if case .added(let identity) = event { return identity } else { return nil }
        }
        #expect(added.first { $0.portPath == "1-3" } == MockUSBRecords.ftdiIdentity)
        #expect(added.first { $0.portPath == "1-4" } == MockUSBRecords.rawIdentity)
        #expect(MockUSBRecords.ftdiIdentity.stableKey == "0403:6001:FT5XYZ12")
        #expect(MockUSBRecords.rawIdentity.stableKey == "2939:0001@1-4")
        try await harness.stop()
        _ = testbed
    }

    @Test func hotplugAddReportsTheGroupedIdentityOnce() async throws {
        guard try await UmockdevReexec.runHere(suite: "UdevDiscoveryTests") else { return }
        let testbed = try UmockdevTestbed()
        let harness = DiscoveryHarness(settleWindow: .milliseconds(50))
        try await harness.waitForEvents(1)
        #expect(harness.events == [.coldplugComplete])

        try testbed.add(MockUSBRecords.ftdi)  // umockdev sends add for the usb_device, interface and tty
        try await harness.waitForEvents(2)
        try await Task.sleep(for: .milliseconds(300))  // anything more would show up now
        #expect(harness.events == [.coldplugComplete, .added(MockUSBRecords.ftdiIdentity)])
        try await harness.stop()
        _ = testbed
    }

    @Test func removeThenReplugWithinTheGracePeriodReattaches() async throws {
        guard try await UmockdevReexec.runHere(suite: "UdevDiscoveryTests") else { return }
        let testbed = try UmockdevTestbed()
        try testbed.add(MockUSBRecords.ftdi)
        let harness = DiscoveryHarness(settleWindow: .milliseconds(50), gracePeriod: .seconds(10))
        try await harness.waitForEvents(2)

        unplug(testbed)
        try await harness.waitForEvents(3)
        #expect(harness.events.last == .removed(MockUSBRecords.ftdiIdentity))

        // Duplicate removes (newer umockdev sends its own on remove_device): no effect.
        testbed.uevent("/sys" + MockUSBRecords.ftdiPath, "remove")
        testbed.uevent("/sys" + MockUSBRecords.ftdiTTYPath, "remove")

        testbed.uevent("/sys" + MockUSBRecords.ftdiPath, "add")
        testbed.uevent("/sys" + MockUSBRecords.ftdiInterfacePath, "add")
        testbed.uevent("/sys" + MockUSBRecords.ftdiTTYPath, "add")
        try await harness.waitForEvents(4)
        try await Task.sleep(for: .milliseconds(300))
        #expect(
            harness.events == [
                .added(MockUSBRecords.ftdiIdentity), .coldplugComplete, .removed(MockUSBRecords.ftdiIdentity),
                .reattached(MockUSBRecords.ftdiIdentity),
            ])
        try await harness.stop()
        _ = testbed
    }

    @Test func removedDeviceExpiresAfterTheGracePeriod() async throws {
        guard try await UmockdevReexec.runHere(suite: "UdevDiscoveryTests") else { return }
        let testbed = try UmockdevTestbed()
        try testbed.add(MockUSBRecords.raw)
        let harness = DiscoveryHarness(settleWindow: .milliseconds(50), gracePeriod: .milliseconds(200))
        try await harness.waitForEvents(2)

        testbed.uevent("/sys" + MockUSBRecords.rawPath + "/1-4:1.0", "remove")
        testbed.uevent("/sys" + MockUSBRecords.rawPath, "remove")
        try await harness.waitForEvents(4)
        #expect(
            harness.events == [
                .added(MockUSBRecords.rawIdentity), .coldplugComplete, .removed(MockUSBRecords.rawIdentity),
                .expired(MockUSBRecords.rawIdentity),
            ])

        // Plugged in again after expiry: a new device, not a re-attach. (Re-adding the record
        // after `remove_device` trips an assertion in umockdev 0.17: replug by uevent.)
        testbed.uevent("/sys" + MockUSBRecords.rawPath, "add")
        testbed.uevent("/sys" + MockUSBRecords.rawPath + "/1-4:1.0", "add")
        try await harness.waitForEvents(5)
        #expect(harness.events.last == .added(MockUSBRecords.rawIdentity))
        try await harness.stop()
        _ = testbed
    }

    @Test func aTTYAppearingLaterIsAChangeOfTheSameDevice() async throws {
        guard try await UmockdevReexec.runHere(suite: "UdevDiscoveryTests") else { return }
        let testbed = try UmockdevTestbed()
        let (withoutTTY, tty) = MockUSBRecords.ftdiSplitAtTTY
        try testbed.add(withoutTTY)
        let harness = DiscoveryHarness(settleWindow: .milliseconds(50))
        let events = try await harness.waitForEvents(2)
        var before = MockUSBRecords.ftdiIdentity
        before.deviceNodes = ["/dev/bus/usb/001/007"]
        before.properties["ID_LABVISOR_ROLE"] = nil  // only the tty record has it
        #expect(events == [.added(before), .coldplugComplete])

        try testbed.add(tty)  // the driver created the tty later
        try await harness.waitForEvents(3)
        try await Task.sleep(for: .milliseconds(200))
        #expect(harness.events == [.added(before), .coldplugComplete, .changed(MockUSBRecords.ftdiIdentity)])
        try await harness.stop()
        _ = testbed
    }

    @Test func cancellingRunEndsTheThreadAndFinishesTheStream() async throws {
        guard try await UmockdevReexec.runHere(suite: "UdevDiscoveryTests") else { return }
        let testbed = try UmockdevTestbed()
        let harness = DiscoveryHarness()
        try await harness.waitForEvents(1)
        try await harness.stop()
        _ = testbed
    }

    @Test func gracefulShutdownOfItsServiceGroupEndsRun() async throws {
        guard try await UmockdevReexec.runHere(suite: "UdevDiscoveryTests") else { return }
        let testbed = try UmockdevTestbed()
        let discovery = UdevDiscovery()
        let group = ServiceGroup(services: [discovery], logger: Logger(label: "test"))
        let running = Task { try await group.run() }
        let ended = LockedState(false)
        let reader = Task {
            for await _ in discovery.events {}
            ended.withLock { $0 = true }  // the stream finishes when run() returns
        }
        try await Task.sleep(for: .milliseconds(50))
        await group.triggerGracefulShutdown()
        let deadline = ContinuousClock.now + .seconds(5)
        while !ended.withLock({ $0 }), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(2)) }
        #expect(ended.withLock { $0 }, "run() did not return within 5 s of graceful shutdown")
        running.cancel()
        reader.cancel()
        _ = try? await running.value
        _ = testbed
    }

    /// What the kernel sends on unplug: children first, then the usb_device (umockdev 0.17
    /// sends nothing on `remove_device`, so the uevents are synthesized).
    private func unplug(_ testbed: UmockdevTestbed) {
        testbed.uevent("/sys" + MockUSBRecords.ftdiTTYPath, "remove")
        testbed.uevent("/sys" + MockUSBRecords.ftdiInterfacePath, "remove")
        testbed.uevent("/sys" + MockUSBRecords.ftdiPath, "remove")
    }
}
