import Foundation
import GRDB
import LabvisorCore
import LabvisorHardware
import LabvisorProtocol

/// The daemon's state on disk: an SQLite database (GRDB `DatabasePool`, WAL mode) holding
/// the known instruments, the allocation history and the audit log (`StoreSchema`).
///
/// A record is durable once the transaction that wrote it committed: the write-ahead log
/// survives `kill -9` of the daemon, and the next open replays it. Writes come from one task
/// (`StoreService`), in small transactions; reads run concurrently with them on the pool's
/// readers, so `history.list` never waits for a write.
public final class StateStore: Sendable {
    /// The database's file name in the state directory.
    public static let fileName = "labvisor.sqlite"

    /// The database file.
    public let path: String
    private let pool: DatabasePool

    /// Opens (creating it if needed) the database at `path` and migrates it to the current
    /// schema.
    ///
    /// - Throws: `unavailable` naming the file when it cannot be opened or migrated.
    public init(path: String) throws(LabvisorError) {
        self.path = path
        var configuration = Configuration()
        configuration.label = "labvisor.store"
        configuration.foreignKeysEnabled = true
        // A writer that finds the database locked by another process waits a little.
        configuration.busyMode = .timeout(5)
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            try StoreSchema.migrator.migrate(pool)
        } catch {
            throw Self.failure("cannot open the state store \(path)", error)
        }
    }

    /// Opens `<directory>/labvisor.sqlite`, creating the directory (mode 0750) if needed.
    ///
    /// - Throws: `unavailable` naming the directory or the file.
    public convenience init(directory: String) throws(LabvisorError) {
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
        } catch {
            throw Self.failure("cannot create the state directory \(directory)", error)
        }
        try self.init(path: (directory as NSString).appendingPathComponent(Self.fileName))
    }

    /// The migrations applied to the database, in order (`["v1"]`).
    public func appliedMigrations() throws(LabvisorError) -> [String] {
        do {
            return try pool.read { db in try StoreSchema.migrator.appliedIdentifiers(db) }.sorted()
        } catch {
            throw Self.failure("cannot read the migrations of \(path)", error)
        }
    }

    /// The journal mode in force (`wal`).
    public func journalMode() throws(LabvisorError) -> String {
        do {
            return try pool.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "" }
        } catch {
            throw Self.failure("cannot read the journal mode of \(path)", error)
        }
    }

    // MARK: - Writing

    /// Writes `records` in one transaction; they are durable when this returns. The work runs
    /// on `thread`, else on a new thread of its own (GRDB's synchronous write), never on the
    /// caller's (a cooperative or event loop thread).
    ///
    /// - Throws: `unavailable` naming the file (disk full, read-only, ...); nothing of the
    ///   batch is written then.
    public func write(_ records: [StoreRecord], on thread: WorkerThread? = nil) async throws(LabvisorError) {
        guard !records.isEmpty else { return }
        let pool = self.pool
        let transaction = { @Sendable in
            try pool.write { db in
                let inserts = try AllocationInserts(db)
                for record in records { try Self.write(record, in: db, inserts: inserts) }
            }
        }
        do {
            try await Self.run(transaction, on: thread)
        } catch {
            throw Self.failure("cannot write \(records.count) records to the state store \(path)", error)
        }
    }

    /// The two inserts of an allocation record, looked up once per transaction (the cache's
    /// key is the whole SQL text, hashed on every lookup).
    private struct AllocationInserts {
        let allocation: BoundInsert
        let membership: BoundInsert

        init(_ db: Database) throws {
            allocation = try BoundInsert(
                """
                INSERT INTO allocation (lease, holder, uid, pid, instruments, requirements, queued_at, granted_at,
                                        released_at, duration, reason, revoked_by, detail)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, in: db)
            membership = try BoundInsert("INSERT INTO allocation_instrument (allocation, instrument) VALUES (?, ?)", in: db)
        }
    }

    private static func write(_ record: StoreRecord, in db: Database, inserts: AllocationInserts) throws {
        switch record {
        case .allocation(let allocation):
            let entry = AllocationHistoryEntry(allocation)
            try inserts.allocation.execute { values in
                try values.text(entry.lease)
                try values.text(entry.holder)
                try values.integer(entry.uid.map { Int64($0) })
                try values.integer(entry.pid.map { Int64($0) })
                try values.text(json(.array(entry.instruments.map(JSONValue.string))))
                try values.text(json(entry.requirements))
                try values.real(entry.queuedAt)
                try values.real(entry.grantedAt)
                try values.real(entry.releasedAt)
                try values.real(entry.duration)
                try values.text(entry.reason)
                try values.text(entry.revokedBy)
                try values.text(entry.detail)
            }
            let id = db.lastInsertedRowID
            for instrument in Set(entry.instruments) {
                try inserts.membership.execute { values in
                    try values.integer(id)
                    try values.text(instrument)
                }
            }
        case .audit(let entry):
            try db.cachedStatement(sql: "INSERT INTO audit (time, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)")
                .execute(arguments: [entry.time, entry.actor, entry.action, entry.target, entry.detail])
        case .instrumentSeen(let sighting):
            let time = sighting.at.timeIntervalSince1970
            try db.execute(
                sql: """
                    INSERT INTO instrument (identity, name, driver, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT(identity) DO UPDATE SET name = excluded.name, driver = excluded.driver,
                        last_seen = max(last_seen, excluded.last_seen)
                    """,
                arguments: [sighting.identity, sighting.name, sighting.driver, time, time])
        case .instrumentActive(let name, let at):
            try db.execute(
                sql: "UPDATE instrument SET last_seen = max(last_seen, ?) WHERE name = ?",
                arguments: [at.timeIntervalSince1970, name])
        }
    }

    /// What `prune(before:on:)` removed.
    public struct Pruned: Sendable, Hashable {
        /// Allocation records (with their instrument rows).
        public var allocations: Int
        /// Audit log entries.
        public var auditEntries: Int

        /// The counts.
        public init(allocations: Int, auditEntries: Int) {
            self.allocations = allocations
            self.auditEntries = auditEntries
        }
    }

    /// Removes the allocation records released before `cutoff` and the audit entries older
    /// than it, in one transaction on `thread` (else a thread of its own). Known instruments
    /// stay: a name must survive however long a device is away.
    ///
    /// - Throws: `unavailable` naming the file; nothing is removed then.
    public func prune(before cutoff: Date, on thread: WorkerThread? = nil) async throws(LabvisorError) -> Pruned {
        let pool = self.pool
        let seconds = cutoff.timeIntervalSince1970
        let transaction = { @Sendable () throws -> Pruned in
            try pool.write { db in
                // `allocation_instrument` rows go with their allocation (ON DELETE CASCADE).
                try db.execute(sql: "DELETE FROM allocation WHERE released_at < ?", arguments: [seconds])
                let allocations = db.changesCount
                try db.execute(sql: "DELETE FROM audit WHERE time < ?", arguments: [seconds])
                return Pruned(allocations: allocations, auditEntries: db.changesCount)
            }
        }
        do {
            return try await Self.run(transaction, on: thread)
        } catch {
            throw Self.failure("cannot remove old records from the state store \(path)", error)
        }
    }

    // MARK: - Reading

    /// Ended allocations, newest release first.
    public func allocations(_ query: HistoryQuery) async throws(LabvisorError) -> [AllocationHistoryEntry] {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let instrument = query.instrument {
            conditions.append("id IN (SELECT allocation FROM allocation_instrument WHERE instrument = ?)")
            _ = arguments.append(contentsOf: [instrument])
        }
        if let since = query.since {
            conditions.append("released_at >= ?")
            _ = arguments.append(contentsOf: [since.timeIntervalSince1970])
        }
        _ = arguments.append(contentsOf: [query.limit])
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let sql = """
            SELECT lease, holder, uid, pid, instruments, requirements, queued_at, granted_at, released_at, reason,
                   revoked_by, detail
            FROM allocation \(filter) ORDER BY released_at DESC, id DESC LIMIT ?
            """
        let finalArguments = arguments
        do {
            return try await pool.read { db in
                try Row.fetchAll(db, sql: sql, arguments: finalArguments).map { row in
                    let instruments: [String] =
                        if case .array(let names) = try Self.parse(row["instruments"]) { names.compactMap(\.string) } else { [] }
                    return AllocationHistoryEntry(
                        lease: row["lease"], holder: row["holder"], uid: (row["uid"] as Int64?).map { UInt32(truncatingIfNeeded: $0) },
                        pid: (row["pid"] as Int64?).map { Int32(truncatingIfNeeded: $0) }, instruments: instruments,
                        requirements: try Self.parse(row["requirements"]), queuedAt: row["queued_at"], grantedAt: row["granted_at"],
                        releasedAt: row["released_at"], reason: row["reason"], revokedBy: row["revoked_by"], detail: row["detail"])
                }
            }
        } catch {
            throw Self.failure("cannot read the allocation history from \(path)", error)
        }
    }

    /// Audit log entries, newest first (`query.instrument` is ignored).
    public func audit(_ query: HistoryQuery) async throws(LabvisorError) -> [AuditLogEntry] {
        let since = query.since?.timeIntervalSince1970 ?? -Double.greatestFiniteMagnitude
        let limit = query.limit
        do {
            return try await pool.read { db in
                try Row.fetchAll(
                    db, sql: "SELECT time, actor, action, target, detail FROM audit WHERE time >= ? ORDER BY time DESC, id DESC LIMIT ?",
                    arguments: [since, limit]
                ).map { row in
                    AuditLogEntry(time: row["time"], actor: row["actor"], action: row["action"], target: row["target"], detail: row["detail"])
                }
            }
        } catch {
            throw Self.failure("cannot read the audit log from \(path)", error)
        }
    }

    /// Every known instrument, by name.
    public func knownInstruments() async throws(LabvisorError) -> [KnownInstrument] {
        do {
            return try await pool.read { db in
                try Row.fetchAll(db, sql: "SELECT identity, name, driver, first_seen, last_seen FROM instrument ORDER BY name, identity")
                    .map(Self.knownInstrument)
            }
        } catch {
            throw Self.failure("cannot read the known instruments from \(path)", error)
        }
    }

    /// The instrument known by `identity` (a stable identity key), if any: the name a
    /// replugged device had before.
    public func knownInstrument(identity: String) throws(LabvisorError) -> KnownInstrument? {
        do {
            return try pool.read { db in
                try Row.fetchOne(
                    db, sql: "SELECT identity, name, driver, first_seen, last_seen FROM instrument WHERE identity = ?",
                    arguments: [identity]
                ).map(Self.knownInstrument)
            }
        } catch {
            throw Self.failure("cannot read the known instruments from \(path)", error)
        }
    }

    /// Closes the database (later calls fail with `unavailable`). Idempotent.
    public func close() {
        try? pool.close()
    }

    // MARK: - Internals

    /// `work`'s result, computed on `thread`, else on a thread of its own (SQLite blocks: never
    /// on a cooperative or event loop thread).
    private static func run<Value: Sendable>(_ work: @escaping @Sendable () throws -> Value, on thread: WorkerThread?) async throws -> Value {
        if let thread { return try await thread.run(work) }
        return try await DedicatedThread.run(.normal, work)
    }

    private static func knownInstrument(_ row: Row) -> KnownInstrument {
        KnownInstrument(
            identity: row["identity"], name: row["name"], driver: row["driver"],
            firstSeen: Date(timeIntervalSince1970: row["first_seen"]), lastSeen: Date(timeIntervalSince1970: row["last_seen"]))
    }

    private static func json(_ value: JSONValue) -> String {
        String(decoding: JSONWriter.bytes(value), as: UTF8.self)
    }

    private static func parse(_ text: String) throws -> JSONValue {
        try JSONParser.parse(Array(text.utf8))
    }

    private static func failure(_ what: String, _ error: any Error) -> LabvisorError {
        if let error = error as? LabvisorError { return error }
        return LabvisorError(.unavailable, "\(what): \(error)")
    }
}
