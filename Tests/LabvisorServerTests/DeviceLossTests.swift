import Foundation
import LabvisorDriverKit
import LabvisorDriverTesting
import LabvisorServer
import Logging
import Testing

/// A supervisor with one instrument on a `PluggableDevice`, and a record of its events.
final class DeviceLossFixture: Sendable {
    let supervisor: Supervisor
    let recorded = RecordedEvents()
    let name: String
    let device: PluggableDevice
    private let pump: Task<Void, Never>

    init(grace: Duration = .seconds(30)) {
        name = "dev-\(UUID().uuidString.prefix(8).lowercased())"
        supervisor = Supervisor(gracePeriod: grace)
        let subscription = supervisor.events.subscribe()
        let recorded = recorded
        pump = Task { for await event in subscription { recorded.publish(event) } }
        device = PluggableDevice.named(name)
        supervisor.add(instrument(on: link("/dev/first")))
    }

    func link(_ location: String) -> DeviceLink { DeviceLink(location: location) { .none } }

    func instrument(on link: DeviceLink) -> ManagedInstrument {
        ManagedInstrument(
            name: name, kind: "other", driver: DriverCatalog.Entry(PluggableDriver.self), link: link, linger: .zero,
            events: supervisor.events, logger: Logger(label: "test"))
    }

    func client(_ id: UInt64) -> ClientSession { supervisor.connect(ClientRef(id: id, name: "test client \(id)")) }

    func invoke(_ method: String, from session: ClientSession, timeout: Double? = 10) async throws -> JSONValue? {
        try await supervisor.invoke(InvokeMethod.Params(instrument: name, method: method, timeout: timeout), from: session).value
    }

    var state: LifecycleState? { try? supervisor.instrument(name).lifecycle.state }

    /// Waits for the `stateChanged` event to `state`.
    func waitForState(_ state: LifecycleState, timeout: Duration = .seconds(5)) async throws {
        let name = self.name
        try await recorded.waitFor("state \(state) of \(name)", timeout: timeout) { event in
            event.kind == .stateChanged && event.instrument == name && event.fields["to"] == .string(state.rawValue)
        }
    }

    func stop() async {
        await supervisor.shutdown()
        await pump.value
    }
}

/// The supervisor's handling of devices that go away and come back (transport-agnostic).
@Suite("DeviceLossTests", .timeLimit(.minutes(1)))
struct DeviceLossTests {
    @Test func unplugEndsTheCallInProgressWithDeviceGoneAtOnceAndKeepsTheLease() async throws {
        let fixture = DeviceLossFixture()
        let holder = fixture.client(1)
        let lease = try await fixture.supervisor.acquire(AcquireLease.Params(instruments: [fixture.name]), from: holder)
        let call = Task { try await fixture.invoke("hold", from: holder, timeout: 60) }
        try await fixture.recorded.waitFor("holding")
        let pulled = ContinuousClock.now
        fixture.device.plugged = false
        await fixture.supervisor.deviceGone(fixture.name, reason: "unplugged by the test")
        let failure = await thrownError { try await call.value }
        #expect(failure?.code == .deviceGone, "\(failure.map { "\($0)" } ?? "")")
        // Bounded well under the deadline (a loaded machine, TSan, stretch "at once").
        #expect(ContinuousClock.now - pulled < .seconds(10), "the call ends at once, not at its 60 s deadline")
        #expect(fixture.state == .gone)
        try await fixture.waitForState(.gone)

        // Later calls fail at once, naming the instrument and the reason; observers too.
        let later = await thrownError { try await fixture.invoke("touch", from: holder) }
        #expect(later?.code == .deviceGone)
        #expect(later?.message.contains(fixture.name) == true)
        #expect(later?.fields["reason"] == "unplugged by the test")
        let observer = await thrownError { try await fixture.invoke("touch", from: fixture.client(2)) }
        #expect(observer?.code == .deviceGone)

        // The lease survives, and the list shows the state.
        #expect(fixture.supervisor.leases.leases.map(\.id) == [lease.lease])
        let listed = try fixture.supervisor.list(ListInstruments.Params())
        #expect(listed.instruments.first { $0.name == fixture.name }?.state == "gone")
        #expect(fixture.device.shutdowns == 1, "the driver was closed")
        await fixture.stop()
    }

    @Test func replugWithinGraceReattachesUnderTheSameNameAndReopensTheDriverForTheLeaseHolder() async throws {
        let fixture = DeviceLossFixture()
        let holder = fixture.client(1)
        let lease = try await fixture.supervisor.acquire(AcquireLease.Params(instruments: [fixture.name]), from: holder)
        #expect(try await fixture.invoke("touch", from: holder) == 1)
        fixture.device.plugged = false
        await fixture.supervisor.deviceGone(fixture.name, reason: "unplugged by the test")
        let original = try fixture.supervisor.instrument(fixture.name)

        fixture.device.plugged = true
        let reattached = try await fixture.supervisor.deviceReturned(fixture.name, link: fixture.link("/dev/second"))
        #expect(reattached)
        let instrument = try fixture.supervisor.instrument(fixture.name)
        #expect(instrument === original, "the same instrument, not a new one")
        #expect(instrument.deviceLink.location == "/dev/second")
        // The holder's session reference is still open, so the driver reopens by itself.
        try await fixture.waitForState(.ready)
        await instrument.session.settle()
        #expect(fixture.device.opens == 2)
        #expect(instrument.lifecycle.state == .ready)
        #expect(fixture.supervisor.leases.leases.map(\.id) == [lease.lease], "the same lease")
        #expect(try await fixture.invoke("touch", from: holder) == 2, "calls reach the reopened driver")
        let call = Task { try await fixture.invoke("hold", from: holder, timeout: 0.2) }
        let deadline = await thrownError { try await call.value }
        #expect(deadline?.code == .deadlineExceeded, "control calls work under the same lease")
        await fixture.stop()
    }

    @Test func withoutOpenSessionsTheReattachedDriverOpensOnFirstUse() async throws {
        let fixture = DeviceLossFixture()
        await fixture.supervisor.deviceGone(fixture.name, reason: "unplugged by the test")
        #expect(fixture.state == .gone)
        #expect(try await fixture.supervisor.deviceReturned(fixture.name, link: fixture.link("/dev/second")))
        #expect(fixture.state == .discovered)
        #expect(fixture.device.opens == 0, "nobody uses it: not opened")
        #expect(try await fixture.invoke("touch", from: fixture.client(1)) == 1)
        #expect(fixture.state == .ready)
        await fixture.stop()
    }

    @Test func aDeviceGoneFromTheDriverMarksTheInstrumentGone() async throws {
        let fixture = DeviceLossFixture()
        let client = fixture.client(1)
        #expect(try await fixture.invoke("touch", from: client) == 1)
        fixture.device.plugged = false
        let first = await thrownError { try await fixture.invoke("touch", from: client) }
        #expect(first?.code == .deviceGone)
        #expect(fixture.state == .gone)
        let instrument = try fixture.supervisor.instrument(fixture.name)
        #expect(instrument.absent?.reason.contains("hung up") == true)
        // A duplicate report (discovery's remove after the driver noticed) changes nothing.
        await fixture.supervisor.deviceGone(fixture.name, reason: "udev remove")
        #expect(instrument.absent?.reason.contains("hung up") == true)
        #expect(fixture.recorded.events.filter { $0.kind == .stateChanged && $0.fields["to"] == "gone" }.count == 1)
        await fixture.stop()
    }

    @Test func afterTheGracePeriodTheInstrumentIsRemovedAndItsLeaseRevokedWithTheReason() async throws {
        let fixture = DeviceLossFixture(grace: .milliseconds(200))
        let holder = fixture.client(1)
        _ = try await fixture.supervisor.acquire(AcquireLease.Params(instruments: [fixture.name]), from: holder)
        #expect(try await fixture.invoke("touch", from: holder) == 1)
        await fixture.supervisor.deviceGone(fixture.name, reason: "unplugged by the test")
        let name = fixture.name
        let removed = try await fixture.recorded.waitFor("removal of \(name)") { $0.kind == .instrumentRemoved && $0.instrument == name }
        let reason = removed.fields["reason"]?.string ?? ""
        #expect(reason.contains("did not come back within the grace period"), "\(reason)")
        #expect(fixture.supervisor.leases.leases.isEmpty)
        let revoked = fixture.recorded.events.first { $0.kind == .leaseRevoked }
        #expect(revoked?.fields["reason"]?.string == reason)
        let later = await thrownError { try await fixture.invoke("touch", from: holder) }
        #expect(later?.code == .notFound)
        #expect(later?.message.contains("grace period") == true, "\(later?.message ?? "")")
        // Too late to re-attach: the caller (discovery) adds it again.
        let returned = await thrownError { try await fixture.supervisor.deviceReturned(name, link: fixture.link("/dev/second")) }
        #expect(returned?.code == .notFound)
        fixture.supervisor.add(fixture.instrument(on: fixture.link("/dev/second")))
        #expect(try await fixture.invoke("touch", from: holder) == 2, "a stale reference of the old instrument is not used")
        await fixture.stop()
    }

    @Test func aReplugCancelsTheGracePeriod() async throws {
        let fixture = DeviceLossFixture(grace: .seconds(2))
        await fixture.supervisor.deviceGone(fixture.name, reason: "unplugged by the test")
        #expect(try await fixture.supervisor.deviceReturned(fixture.name, link: fixture.link("/dev/second")))
        try await Task.sleep(for: .seconds(3))
        #expect(fixture.state == .discovered, "still there after the old grace period")
        #expect(!fixture.recorded.events.contains { $0.kind == .instrumentRemoved })
        await fixture.stop()
    }
}
