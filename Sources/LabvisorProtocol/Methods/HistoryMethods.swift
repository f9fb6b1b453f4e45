/// One ended lease of the usage history: who had what, asked how, when, for how long, and
/// why it ended.
public struct AllocationHistoryEntry: Codable, Sendable, Hashable {
    /// The lease id ("L17"; numbering restarts with the daemon).
    public var lease: String
    /// Who held it ("uid 1000 pid 4242").
    public var holder: String
    /// The holder's user id, when known.
    public var uid: UInt32?
    /// The holder's process id, when known.
    public var pid: Int32?
    /// The instruments it held, in name order.
    public var instruments: [String]
    /// What was asked for: `{"names": [...]}` or `{"where": {...}, "count": n}`.
    public var requirements: JSONValue
    /// When it was asked for (seconds since 1970).
    public var queuedAt: Double
    /// When it was granted (seconds since 1970).
    public var grantedAt: Double
    /// When it ended (seconds since 1970).
    public var releasedAt: Double
    /// Seconds held (`releasedAt - grantedAt`).
    public var duration: Double
    /// Why it ended: `released`, `clientDisconnected`, `revoked`, `instrumentGone` or `shutdown`.
    public var reason: String
    /// Who revoked it (with `revoked`).
    public var revokedBy: String?
    /// Why it was revoked, or why the instrument went away.
    public var detail: String?

    /// Creates an entry.
    public init(
        lease: String, holder: String, uid: UInt32? = nil, pid: Int32? = nil, instruments: [String], requirements: JSONValue,
        queuedAt: Double, grantedAt: Double, releasedAt: Double, reason: String, revokedBy: String? = nil, detail: String? = nil
    ) {
        self.lease = lease
        self.holder = holder
        self.uid = uid
        self.pid = pid
        self.instruments = instruments
        self.requirements = requirements
        self.queuedAt = queuedAt
        self.grantedAt = grantedAt
        self.releasedAt = releasedAt
        self.duration = releasedAt - grantedAt
        self.reason = reason
        self.revokedBy = revokedBy
        self.detail = detail
    }
}

/// `history.list`: the usage history (ended leases), newest first.
public enum ListHistory: WireMethod {
    /// Parameters; every one is optional.
    public struct Params: Codable, Sendable, Hashable {
        /// Only leases that held this instrument.
        public var instrument: String?
        /// Only leases that ended at or after this time (seconds since 1970).
        public var since: Double?
        /// The most entries to return (default 100, at most 10000).
        public var limit: Int?
        /// Creates parameters.
        public init(instrument: String? = nil, since: Double? = nil, limit: Int? = nil) {
            self.instrument = instrument
            self.since = since
            self.limit = limit
        }
    }
    /// Result.
    public struct Result: Codable, Sendable, Hashable {
        /// The entries, newest release first.
        public var records: [AllocationHistoryEntry]
        /// Whether they come from the state store (`false`: the daemon runs without one and
        /// answers from memory, the last 1000 leases since it started).
        public var persistent: Bool
        /// Creates a result.
        public init(records: [AllocationHistoryEntry], persistent: Bool) {
            self.records = records
            self.persistent = persistent
        }
    }
    public static let name = "history.list"
    public static let summary = """
        Lists ended leases, newest first: holder, instruments, requirements, queue, grant and \
        release times, duration and release reason (`released`, `clientDisconnected`, `revoked` \
        with `revokedBy` and `detail`, `instrumentGone`, `shutdown`). Leases held now are in \
        `leases.list`.
        """
    public static let errors: [ErrorCode] = [.invalidArgument, .unavailable]
    public static let exampleParams = Params(instrument: "stage-x", since: 1_790_000_000, limit: 50)
    public static let exampleResult = Result(
        records: [
            AllocationHistoryEntry(
                lease: "L17", holder: "uid 1000 pid 4242", uid: 1000, pid: 4242, instruments: ["stage-x"],
                requirements: ["names": ["stage-x"]], queuedAt: 1_790_000_000.5, grantedAt: 1_790_000_000.5,
                releasedAt: 1_790_000_060.5, reason: "revoked", revokedBy: "uid 0 pid 77", detail: "stage needed for alignment")
        ],
        persistent: true)
}

/// One administrative action of the audit log.
public struct AuditLogEntry: Codable, Sendable, Hashable {
    /// When (seconds since 1970).
    public var time: Double
    /// Who did it ("uid 0 pid 77", or `labvisord` for the daemon itself).
    public var actor: String
    /// What: `revoke`, `configReload`, ...
    public var action: String
    /// What it acted on (a lease id, a configuration file).
    public var target: String
    /// Details (the reason given, what changed).
    public var detail: String

    /// Creates an entry.
    public init(time: Double, actor: String, action: String, target: String, detail: String) {
        self.time = time
        self.actor = actor
        self.action = action
        self.target = target
        self.detail = detail
    }
}

/// `audit.list`: the audit log of administrative actions, newest first.
public enum ListAudit: WireMethod {
    /// Parameters; every one is optional.
    public struct Params: Codable, Sendable, Hashable {
        /// Only entries at or after this time (seconds since 1970).
        public var since: Double?
        /// The most entries to return (default 100, at most 10000).
        public var limit: Int?
        /// Creates parameters.
        public init(since: Double? = nil, limit: Int? = nil) {
            self.since = since
            self.limit = limit
        }
    }
    /// Result.
    public struct Result: Codable, Sendable, Hashable {
        /// The entries, newest first.
        public var entries: [AuditLogEntry]
        /// Creates a result.
        public init(entries: [AuditLogEntry]) { self.entries = entries }
    }
    public static let name = "audit.list"
    public static let summary = """
        Lists administrative actions (revocations, configuration reloads), newest first. Needs \
        the state store: without one the daemon answers `unavailable`.
        """
    public static let errors: [ErrorCode] = [.invalidArgument, .unavailable]
    public static let exampleParams = Params(since: 1_790_000_000, limit: 20)
    public static let exampleResult = Result(entries: [
        AuditLogEntry(time: 1_790_000_060.5, actor: "uid 0 pid 77", action: "revoke", target: "L17", detail: "stage needed for alignment")
    ])
}
