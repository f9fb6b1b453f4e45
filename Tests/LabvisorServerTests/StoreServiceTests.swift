import Foundation
import LabvisorDriverTesting
import LabvisorServer
import Logging
import ServiceLifecycle
import Testing

/// The store's writer in the daemon's shape: a supervisor whose lease table and revocations
/// feed a `StoreService` running in a `ServiceGroup`.
@Suite("StoreServiceTests", .timeLimit(.minutes(1)))
struct StoreServiceTests {
    let logger = Logger(label: "test.store")

    @Test func leasesRevocationsAndInstrumentsAreWrittenAndFlushedAtShutdown() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let events = EventBus()
        let service = StoreService(store: try StateStore(directory: folder.path), events: events, batchSize: 4, logger: logger)
        let supervisor = Supervisor(events: events, store: service, logger: logger)
        supervisor.addLoopback(logger: logger)  // before run(): the subscription already listens
        let group = ServiceGroup(services: [service], logger: logger)
        let running = Task { try await group.run() }

        let alice = supervisor.connect(ClientRef(id: 1, name: "uid 1000 pid 11", uid: 1000, pid: 11))
        let bob = supervisor.connect(ClientRef(id: 2, name: "uid 1001 pid 22", uid: 1001, pid: 22))
        let admin = supervisor.connect(ClientRef(id: 3, name: "uid 0 pid 33", uid: 0, pid: 33))
        for _ in 0..<10 {
            let lease = try await supervisor.acquire(AcquireLease.Params(instruments: ["loopback"]), from: alice)
            try supervisor.release(ReleaseLease.Params(lease: lease.lease), from: alice)
        }
        _ = try await supervisor.acquire(AcquireLease.Params(where: ["driver": "loopback"]), from: bob)
        supervisor.disconnect(bob)
        let revoked = try await supervisor.acquire(AcquireLease.Params(instruments: ["loopback"]), from: alice)
        try supervisor.revoke(RevokeLease.Params(lease: revoked.lease, reason: "maintenance"), from: admin)

        await group.triggerGracefulShutdown()
        try await withTimeLimit { try await running.value }
        #expect(service.pendingCount == 0)

        let store = try StateStore(directory: folder.path)
        defer { store.close() }
        let history = try await store.allocations(HistoryQuery(limit: 100))
        #expect(history.count == 12)
        #expect(history.filter { $0.reason == "released" }.count == 10)
        let disconnected = try #require(history.first { $0.reason == "clientDisconnected" })
        #expect(disconnected.holder == "uid 1001 pid 22")
        #expect(disconnected.uid == 1001 && disconnected.pid == 22)
        #expect(disconnected.requirements == ["where": ["driver": "loopback"], "count": 1])
        let revocation = try #require(history.first)
        #expect(revocation.lease == revoked.lease)
        #expect(revocation.reason == "revoked")
        #expect(revocation.revokedBy == "uid 0 pid 33")
        #expect(revocation.detail == "maintenance")
        let audit = try await store.audit(HistoryQuery())
        #expect(audit.map(\.action) == ["revoke"])
        #expect(audit.first?.actor == "uid 0 pid 33")
        #expect(audit.first?.target == revoked.lease)
        let known = try await store.knownInstruments()
        #expect(known.map(\.identity) == ["config:loopback"])
        #expect(known.first?.driver == "loopback")
    }

    /// With a retention the writer removes what is older when it starts, and again after a
    /// batch once `pruneInterval` has passed; newer records stay.
    @Test func retentionPrunesAtStartAndAfterBatches() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let now = Date().timeIntervalSince1970
        let old = (0..<3).map { StoreRecord.audit(AuditLogEntry(time: now - 40 * 86_400, actor: "test", action: "revoke", target: "old\($0)", detail: "")) }
        let store = try StateStore(directory: folder.path)
        try await store.write(old + [.audit(AuditLogEntry(time: now - 86_400, actor: "test", action: "revoke", target: "recent", detail: ""))])
        store.close()

        let service = StoreService(
            store: try StateStore(directory: folder.path), events: EventBus(), gatherWindow: .milliseconds(1),
            retention: .seconds(30 * 86_400), pruneInterval: .milliseconds(100), logger: logger)
        let running = Task { try await service.run() }
        let reader = try StateStore(directory: folder.path)
        defer { reader.close() }
        func targets() async throws -> [String] { try await reader.audit(HistoryQuery(limit: 100)).map(\.target).sorted() }
        let deadline = ContinuousClock.now + .seconds(20)
        while try await targets() != ["recent"], ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(try await targets() == ["recent"], "pruned at start")

        // A record that is already too old when it is written goes after a later batch.
        service.record(.audit(AuditLogEntry(time: now - 31 * 86_400, actor: "test", action: "revoke", target: "late", detail: "")))
        try await Task.sleep(for: .milliseconds(150))
        service.record(.audit(AuditLogEntry(time: now, actor: "test", action: "revoke", target: "new", detail: "")))
        while try await targets() != ["new", "recent"], ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(try await targets() == ["new", "recent"])
        running.cancel()
        try await withTimeLimit { try await running.value }
    }

    @Test func cancelledServiceStillWritesWhatWasQueued() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let service = StoreService(store: try StateStore(directory: folder.path), events: EventBus(), batchSize: 7, logger: logger)
        let running = Task { try await service.run() }
        for index in 0..<100 {
            service.record(.audit(AuditLogEntry(time: Double(index), actor: "test", action: "revoke", target: "L\(index)", detail: "")))
        }
        running.cancel()
        try await withTimeLimit { try await running.value }
        #expect(service.pendingCount == 0)
        let store = try StateStore(directory: folder.path)
        defer { store.close() }
        #expect(try await store.audit(HistoryQuery(limit: 1000)).count == 100)
    }

    /// The supervisor's shutdown finishes the bus before the store stops: what ends later
    /// (the last connections' leases) is still written.
    @Test func recordsAfterTheBusFinishedAreStillWritten() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let events = EventBus()
        let service = StoreService(store: try StateStore(directory: folder.path), events: events, logger: logger)
        let group = ServiceGroup(services: [service], logger: logger)
        let running = Task { try await group.run() }
        events.finish()
        service.record(.audit(AuditLogEntry(time: 1, actor: "labvisord", action: "revoke", target: "L1", detail: "late")))
        await group.triggerGracefulShutdown()
        try await withTimeLimit { try await running.value }
        let store = try StateStore(directory: folder.path)
        defer { store.close() }
        #expect(try await store.audit(HistoryQuery()).map(\.detail) == ["late"])
    }

    @Test func historyComesFromTheStoreOrFromMemory() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        // Without a store: memory, marked not persistent; the audit log is unavailable.
        let memory = Supervisor(logger: logger)
        memory.addLoopback(logger: logger)
        let client = memory.connect(ClientRef(id: 1, name: "uid 1000 pid 11"))
        let lease = try await memory.acquire(AcquireLease.Params(instruments: ["loopback"]), from: client)
        try memory.release(ReleaseLease.Params(lease: lease.lease), from: client)
        let fromMemory = try await memory.history(ListHistory.Params(instrument: "loopback"))
        #expect(fromMemory.persistent == false)
        #expect(fromMemory.records.map(\.lease) == [lease.lease])
        #expect(try await memory.history(ListHistory.Params(instrument: "other")).records.isEmpty)
        let noAudit = await #expect(throws: LabvisorError.self) { try await memory.audit(ListAudit.Params()) }
        #expect(noAudit?.code == .unavailable)
        let badLimit = await #expect(throws: LabvisorError.self) { try await memory.history(ListHistory.Params(limit: 0)) }
        #expect(badLimit?.fields["argument"] == "limit")

        // With a store: what it committed.
        let events = EventBus()
        let store = try StateStore(directory: folder.path)
        try await store.write([
            .allocation(AllocationRecord(
                leaseID: "L1", holder: "client 1 (x)", holderName: "x", instruments: ["loopback"], request: .names(["loopback"]),
                queuedAt: Date(), startedAt: Date(), releasedAt: Date(), releaseReason: .released))
        ])
        let service = StoreService(store: store, events: events, logger: logger)
        let persistent = Supervisor(events: events, store: service, logger: logger)
        let result = try await persistent.history(ListHistory.Params())
        #expect(result.persistent)
        #expect(result.records.map(\.holder) == ["x"])
        store.close()
    }
}
