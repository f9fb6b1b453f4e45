import Foundation
import GRDB
import LabvisorServer
import Testing

/// The state store on a real SQLite file: migrations, writes, filtered reads, durability.
@Suite("StateStoreTests", .timeLimit(.minutes(1)))
struct StateStoreTests {
    static let start = Date(timeIntervalSince1970: 1_790_000_000)

    /// An ended record of lease `id` on `instruments`, released `at` seconds after `start`.
    static func record(
        _ id: Int, _ instruments: [String], at offset: Double, reason: ReleaseReason = .released, holder: String = "uid 1000 pid 4242"
    ) -> StoreRecord {
        .allocation(AllocationRecord(
            leaseID: "L\(id)", holder: "client \(id) (\(holder))", holderName: holder, uid: 1000, pid: 4242, instruments: instruments,
            request: .names(instruments), queuedAt: start.addingTimeInterval(offset - 10),
            startedAt: start.addingTimeInterval(offset - 8), releasedAt: start.addingTimeInterval(offset), releaseReason: reason))
    }

    @Test func freshDatabaseIsCreatedMigratedAndInWALMode() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let directory = folder.file("state")  // does not exist yet
        let store = try StateStore(directory: directory)
        #expect(store.path == directory + "/labvisor.sqlite")
        #expect(FileManager.default.fileExists(atPath: store.path))
        #expect(try store.appliedMigrations() == ["v1"])
        #expect(try store.journalMode() == "wal")
        #expect(try await store.allocations(HistoryQuery()).isEmpty)
        store.close()
    }

    @Test func existingDatabaseKeepsItsRecordsAndIsNotMigratedTwice() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let first = try StateStore(directory: folder.path)
        try await first.write([Self.record(1, ["stage-x"], at: 10)])
        first.close()
        let second = try StateStore(directory: folder.path)
        #expect(try second.appliedMigrations() == ["v1"])
        #expect(try await second.allocations(HistoryQuery()).map(\.lease) == ["L1"])
        try await second.write([Self.record(2, ["stage-x"], at: 20)])
        #expect(try await second.allocations(HistoryQuery()).map(\.lease) == ["L2", "L1"])
        second.close()
    }

    @Test func databaseMadeByOthersIsMigratedAndKeepsItsTables() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file(StateStore.fileName)
        let other = try DatabaseQueue(path: path)
        try await other.write { db in
            try db.execute(sql: "CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('kept')")
        }
        try other.close()
        let store = try StateStore(path: path)
        #expect(try store.appliedMigrations() == ["v1"])
        #expect(try store.journalMode() == "wal")
        store.close()
        let check = try DatabaseQueue(path: path)
        #expect(try await check.read { db in try String.fetchOne(db, sql: "SELECT text FROM notes") } == "kept")
        try check.close()
    }

    @Test func unwritableStateDirectoryIsAnErrorNamingIt() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let blocker = folder.file("file")
        _ = FileManager.default.createFile(atPath: blocker, contents: Data("x".utf8))
        let error = #expect(throws: LabvisorError.self) { try StateStore(directory: blocker + "/state") }
        #expect(error?.code == .unavailable)
        #expect(error?.message.contains(blocker) == true, "\(error?.message ?? "")")
    }

    @Test func readsFilterByInstrumentSinceAndLimitNewestFirst() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let store = try StateStore(directory: folder.path)
        try await store.write([
            Self.record(1, ["stage-x"], at: 10),
            Self.record(2, ["laser-488", "stage-x"], at: 20, reason: .clientDisconnected),
            Self.record(3, ["laser-488"], at: 30, reason: .revoked(by: "uid 0 pid 1", reason: "alignment")),
            Self.record(4, ["stage-x"], at: 40, reason: .instrumentGone(reason: "unplugged")),
        ])
        try await store.write([Self.record(5, ["camera"], at: 50)])

        #expect(try await store.allocations(HistoryQuery()).map(\.lease) == ["L5", "L4", "L3", "L2", "L1"])
        #expect(try await store.allocations(HistoryQuery(instrument: "stage-x")).map(\.lease) == ["L4", "L2", "L1"])
        #expect(try await store.allocations(HistoryQuery(instrument: "laser-488")).map(\.lease) == ["L3", "L2"])
        #expect(try await store.allocations(HistoryQuery(instrument: "nothing")).isEmpty)
        let since = Self.start.addingTimeInterval(30)
        #expect(try await store.allocations(HistoryQuery(since: since)).map(\.lease) == ["L5", "L4", "L3"])
        #expect(try await store.allocations(HistoryQuery(instrument: "stage-x", since: since)).map(\.lease) == ["L4"])
        #expect(try await store.allocations(HistoryQuery(limit: 2)).map(\.lease) == ["L5", "L4"])

        let all = try await store.allocations(HistoryQuery())
        let revoked = try #require(all.first { $0.lease == "L3" })
        #expect(revoked.reason == "revoked")
        #expect(revoked.revokedBy == "uid 0 pid 1")
        #expect(revoked.detail == "alignment")
        let gone = try #require(all.first { $0.lease == "L4" })
        #expect(gone.reason == "instrumentGone")
        #expect(gone.detail == "unplugged")
        #expect(gone.revokedBy == nil)
        let shared = try #require(all.first { $0.lease == "L2" })
        #expect(shared.reason == "clientDisconnected")
        #expect(shared.instruments == ["laser-488", "stage-x"])
        #expect(shared.requirements == ["names": ["laser-488", "stage-x"]])
        #expect(shared.holder == "uid 1000 pid 4242")
        #expect(shared.uid == 1000)
        #expect(shared.pid == 4242)
        #expect(shared.queuedAt == Self.start.addingTimeInterval(10).timeIntervalSince1970)
        #expect(shared.grantedAt == Self.start.addingTimeInterval(12).timeIntervalSince1970)
        #expect(shared.releasedAt == Self.start.addingTimeInterval(20).timeIntervalSince1970)
        #expect(shared.duration == 8)
        store.close()
    }

    @Test func queryRequirementsAndTheLimitsOfAQuery() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let store = try StateStore(directory: folder.path)
        let query = try RequirementQuery(parsing: ["kind": "stage"])
        try await store.write([
            .allocation(AllocationRecord(
                leaseID: "L9", holder: "client 9 (bench)", holderName: "bench", instruments: ["stage-z"], request: .query(query, count: 1),
                queuedAt: Self.start, startedAt: Self.start, releasedAt: Self.start.addingTimeInterval(1), releaseReason: .shutdown))
        ])
        let entry = try #require(try await store.allocations(HistoryQuery()).first)
        #expect(entry.requirements == ["where": ["kind": "stage"], "count": 1])
        #expect(entry.uid == nil && entry.pid == nil)
        #expect(entry.reason == "shutdown")
        #expect(throws: LabvisorError.self) { try HistoryQuery(instrument: nil, sinceSeconds: nil, limit: 0) }
        #expect(throws: LabvisorError.self) { try HistoryQuery(instrument: nil, sinceSeconds: .infinity, limit: nil) }
        #expect(try HistoryQuery(instrument: nil, sinceSeconds: nil, limit: nil).limit == 100)
        store.close()
    }

    @Test func auditLogAndKnownInstruments() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let store = try StateStore(directory: folder.path)
        let t0 = Self.start
        try await store.write([
            .instrumentSeen(InstrumentSighting(identity: "2939:0001:AB12", name: "stage-x", driver: "zaber-ascii", at: t0)),
            .instrumentSeen(InstrumentSighting(identity: "config:heater-1", name: "heater-1", driver: "example-heater", at: t0)),
            .audit(AuditLogEntry(time: t0.timeIntervalSince1970 + 5, actor: "uid 0 pid 1", action: "revoke", target: "L3", detail: "alignment")),
            .audit(AuditLogEntry(time: t0.timeIntervalSince1970 + 9, actor: "labvisord", action: "configReload", target: "/etc/labvisor/labvisord.toml", detail: "ok")),
        ])
        // Seen again (a replug, a restart) under a new name; and active later.
        try await store.write([
            .instrumentSeen(InstrumentSighting(identity: "2939:0001:AB12", name: "stage-y", driver: "zaber-ascii", at: t0.addingTimeInterval(60))),
            .instrumentActive(name: "heater-1", at: t0.addingTimeInterval(90)),
        ])
        let known = try await store.knownInstruments()
        #expect(known.map(\.name) == ["heater-1", "stage-y"])
        let stage = try #require(try store.knownInstrument(identity: "2939:0001:AB12"))
        #expect(stage.name == "stage-y")
        #expect(stage.firstSeen == t0)
        #expect(stage.lastSeen == t0.addingTimeInterval(60))
        #expect(known.first?.lastSeen == t0.addingTimeInterval(90))
        #expect(try store.knownInstrument(identity: "nope") == nil)

        let audit = try await store.audit(HistoryQuery())
        #expect(audit.map(\.action) == ["configReload", "revoke"])
        #expect(audit.last == AuditLogEntry(time: t0.timeIntervalSince1970 + 5, actor: "uid 0 pid 1", action: "revoke", target: "L3", detail: "alignment"))
        #expect(try await store.audit(HistoryQuery(since: t0.addingTimeInterval(6))).map(\.action) == ["configReload"])
        store.close()
    }

    /// What a crash leaves on disk (the database and its write-ahead log, never closed or
    /// checkpointed) holds every committed record.
    @Test func committedRecordsSurviveWithoutCloseOrCheckpoint() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let store = try StateStore(directory: folder.file("live"))
        try await store.write((1...50).map { Self.record($0, ["stage-x"], at: Double($0)) })
        try await store.write([.audit(AuditLogEntry(time: 1, actor: "a", action: "revoke", target: "L1", detail: "d"))])
        // Snapshot the files as they are now, while the store is open: the state a kill -9 leaves.
        let wal = store.path + "-wal"
        let walSize = (try FileManager.default.attributesOfItem(atPath: wal)[.size] as? Int) ?? 0
        #expect(walSize > 0, "the records are in the write-ahead log, not yet checkpointed")
        let crashed = folder.file("crashed")
        try FileManager.default.createDirectory(atPath: crashed, withIntermediateDirectories: true)
        for suffix in ["", "-wal"] {
            try FileManager.default.copyItem(atPath: store.path + suffix, toPath: crashed + "/" + StateStore.fileName + suffix)
        }
        let reopened = try StateStore(directory: crashed)
        #expect(try await reopened.allocations(HistoryQuery(limit: 1000)).count == 50)
        #expect(try await reopened.audit(HistoryQuery()).count == 1)
        reopened.close()
        store.close()
    }

    /// A record SQLite refuses mid-batch (here a trigger another connection installed) fails
    /// the whole batch with SQLite's reason, and nothing of it is written.
    @Test func refusedRecordFailsTheBatchWithSQLitesReasonAndWritesNothing() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let store = try StateStore(directory: folder.path)
        defer { store.close() }
        let other = try DatabaseQueue(path: store.path)
        try await other.write { db in
            try db.execute(sql: """
                CREATE TRIGGER refuse BEFORE INSERT ON allocation WHEN NEW.lease = 'L3'
                BEGIN SELECT RAISE(ABORT, 'refused by the test'); END
                """)
        }
        try other.close()
        let error = await #expect(throws: LabvisorError.self) {
            try await store.write((1...5).map { Self.record($0, ["stage-x"], at: Double($0)) })
        }
        #expect(error?.code == .unavailable)
        #expect(error?.message.contains("refused by the test") == true)
        #expect(error?.message.contains(store.path) == true)
        #expect(try await store.allocations(HistoryQuery()).isEmpty)
        // The statements are usable again after the failure.
        try await store.write([Self.record(6, ["stage-x"], at: 6), Self.record(7, ["stage-y"], at: 7)])
        #expect(try await store.allocations(HistoryQuery(instrument: "stage-y")).map(\.lease) == ["L7"])
    }

    /// Records released (and audit entries made) before the cutoff go, with their instrument
    /// rows; later ones and the known instruments stay.
    @Test func pruneRemovesWhatEndedBeforeTheCutoff() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let store = try StateStore(directory: folder.path)
        defer { store.close() }
        let sighting = InstrumentSighting(identity: "usb:1", name: "stage-x", driver: "zaber-ascii", at: Self.start)
        try await store.write(
            (1...10).map { Self.record($0, ["stage-x", "stage-y"], at: Double($0)) }
                + (1...4).map { .audit(AuditLogEntry(time: Self.start.timeIntervalSince1970 + Double($0) * 2, actor: "uid 0", action: "revoke", target: "L\($0)", detail: "")) }
                + [.instrumentSeen(sighting)])

        let pruned = try await store.prune(before: Self.start.addingTimeInterval(6))
        #expect(pruned == StateStore.Pruned(allocations: 5, auditEntries: 2))
        #expect(try await store.allocations(HistoryQuery(limit: 100)).map(\.lease) == ["L10", "L9", "L8", "L7", "L6"])
        #expect(try await store.allocations(HistoryQuery(instrument: "stage-y", limit: 100)).count == 5)
        #expect(try await store.audit(HistoryQuery()).map(\.target) == ["L4", "L3"])
        #expect(try await store.knownInstruments().map(\.identity) == ["usb:1"])
        // The instrument rows of the removed allocations went with them.
        let rows = try await DatabaseQueue(path: store.path).read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM allocation_instrument") }
        #expect(rows == 10)
        #expect(try await store.prune(before: Self.start.addingTimeInterval(6)) == StateStore.Pruned(allocations: 0, auditEntries: 0))
    }
}
