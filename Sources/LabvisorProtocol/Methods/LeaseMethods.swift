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

    // Tree forms (see `WireMethod`): a script's loop takes and releases leases as often as it calls.

    public static func params(fromTree tree: JSONValue) -> Params? {
        guard case .object(let members) = tree, let instruments = WireTree.optionalStrings(members["instruments"]),
            let count = WireTree.optionalInt(members["count"]), let timeout = WireTree.optionalNumber(members["timeout"])
        else { return nil }
        return Params(instruments: instruments, where: WireTree.optionalValue(members["where"]), count: count, timeout: timeout)
    }

    public static func tree(of result: LeaseGrant) -> JSONValue? {
        [
            "lease": .string(result.lease), "token": .string(result.token), "instruments": .array(result.instruments.map(JSONValue.string)),
            "since": .double(result.since),
        ]
    }

    public static func tree(ofParams params: Params) -> JSONValue? {
        var members: [String: JSONValue] = [:]
        if let instruments = params.instruments { members["instruments"] = .array(instruments.map(JSONValue.string)) }
        if let query = params.where { members["where"] = query }
        if let count = params.count { members["count"] = .int(count) }
        if let timeout = params.timeout { members["timeout"] = .double(timeout) }
        return .object(members)
    }

    public static func result(fromTree tree: JSONValue) -> LeaseGrant? {
        guard case .object(let members) = tree, case .string(let lease)? = members["lease"], case .string(let token)? = members["token"],
            case .some(.some(let instruments)) = WireTree.optionalStrings(members["instruments"]),
            case .some(.some(let since)) = WireTree.optionalNumber(members["since"])
        else { return nil }
        return LeaseGrant(lease: lease, token: token, instruments: instruments, since: since)
    }
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

    public static func params(fromTree tree: JSONValue) -> Params? {
        guard case .object(let members) = tree, case .string(let lease)? = members["lease"] else { return nil }
        return Params(lease: lease)
    }

    public static func tree(of result: Empty) -> JSONValue? { .object([:]) }

    public static func tree(ofParams params: Params) -> JSONValue? { ["lease": .string(params.lease)] }

    public static func result(fromTree tree: JSONValue) -> Empty? {
        guard case .object = tree else { return nil }
        return Empty()
    }
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
