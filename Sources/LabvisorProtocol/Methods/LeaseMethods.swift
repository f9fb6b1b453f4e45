/// A lease as its holder sees it.
public struct LeaseGrant: Codable, Sendable, Hashable {
    /// The lease id.
    public var lease: String
    /// The secret that lets another connection act under this lease (`LABVISOR_LEASE`).
    public var token: String
    /// The instruments it holds.
    public var instruments: [String]
    /// When it was granted (seconds since 1970).
    public var since: Double

    /// Creates a grant.
    public init(lease: String, token: String, instruments: [String], since: Double) {
        self.lease = lease
        self.token = token
        self.instruments = instruments
        self.since = since
    }
}

/// `leases.acquire`: takes exclusive control of instruments.
public enum AcquireLease: WireMethod {
    /// Parameters: `instruments` by name, or `where` with `count`.
    public struct Params: Codable, Sendable, Hashable {
        /// Instruments by name (all or nothing).
        public var instruments: [String]?
        /// A requirements query: any free instruments that match.
        public var `where`: JSONValue?
        /// How many matching instruments (with `where`); default 1.
        public var count: Int?
        /// Seconds to wait in FIFO order for them to be free; 0 or absent fails at once.
        public var timeout: Double?
        /// Creates parameters.
        public init(instruments: [String]? = nil, where query: JSONValue? = nil, count: Int? = nil, timeout: Double? = nil) {
            self.instruments = instruments
            self.where = query
            self.count = count
            self.timeout = timeout
        }
    }
    public typealias Result = LeaseGrant
    public static let name = "leases.acquire"
    public static let summary = """
        Takes a lease: exclusive control of the named instruments, or of `count` free instruments \
        matching `where`. Atomic and all-or-nothing; waits in FIFO order up to `timeout`. The \
        lease belongs to this connection and ends when it closes.
        """
    public static let errors: [ErrorCode] = [.notFound, .locked, .timeout, .invalidArgument, .resourceExhausted]
    public static let exampleParams = Params(instruments: ["stage-x", "laser-488"], timeout: 5)
    public static let exampleResult = LeaseGrant(lease: "L17", token: "k3J9...", instruments: ["stage-x", "laser-488"], since: 1_790_000_000.5)
}

/// `leases.release`: ends a lease.
public enum ReleaseLease: WireMethod {
    /// Parameters.
    public struct Params: Codable, Sendable, Hashable {
        /// The lease id.
        public var lease: String
        /// Creates parameters.
        public init(lease: String) { self.lease = lease }
    }
    public typealias Result = Empty
    public static let name = "leases.release"
    public static let summary = "Releases a lease held by this connection (or named by a token it adopted)."
    public static let errors: [ErrorCode] = [.notFound, .permissionDenied]
    public static let exampleParams = Params(lease: "L17")
    public static let exampleResult = Empty()
}

/// `leases.list`: every lease held now.
public enum ListLeases: WireMethod {
    public typealias Params = Empty
    /// Result.
    public struct Result: Codable, Sendable, Hashable {
        /// The leases, oldest first (tokens are never shown).
        public var leases: [LeaseInfo]
        /// Creates a result.
        public init(leases: [LeaseInfo]) { self.leases = leases }
    }
    public static let name = "leases.list"
    public static let summary = "Lists the leases held now: id, holder, instruments, since (never the tokens)."
    public static let errors: [ErrorCode] = []
    public static let exampleParams = Empty()
    public static let exampleResult = Result(leases: [LeaseInfo(lease: "L17", holder: "uid 1000 pid 4242", instruments: ["stage-x"], since: 1_790_000_000.5)])
}

/// A lease as anyone may see it.
public struct LeaseInfo: Codable, Sendable, Hashable {
    /// The lease id.
    public var lease: String
    /// Who holds it.
    public var holder: String
    /// The instruments it holds.
    public var instruments: [String]
    /// When it was granted (seconds since 1970).
    public var since: Double

    /// Creates a record.
    public init(lease: String, holder: String, instruments: [String], since: Double) {
        self.lease = lease
        self.holder = holder
        self.instruments = instruments
        self.since = since
    }
}

/// `leases.revoke`: ends someone's lease (administration).
public enum RevokeLease: WireMethod {
    /// Parameters.
    public struct Params: Codable, Sendable, Hashable {
        /// The lease id.
        public var lease: String
        /// Why, for the holder and the audit trail.
        public var reason: String
        /// Creates parameters.
        public init(lease: String, reason: String) {
            self.lease = lease
            self.reason = reason
        }
    }
    public typealias Result = Empty
    public static let name = "leases.revoke"
    public static let summary = """
        Revokes a lease: its instruments are free at once, and its holder's next call under it \
        fails with `leaseRevoked`, saying who revoked it and why.
        """
    public static let errors: [ErrorCode] = [.notFound, .permissionDenied, .invalidArgument]
    public static let exampleParams = Params(lease: "L17", reason: "stage needed for alignment")
    public static let exampleResult = Empty()
}
