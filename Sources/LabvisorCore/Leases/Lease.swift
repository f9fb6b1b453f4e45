import Foundation

/// Exclusive control of one or more instruments, held by one client.
public struct Lease: Sendable, Hashable, CustomStringConvertible {
    /// Public id, shown in listings and used by `revoke` ("L17").
    public let id: String
    /// Secret that lets another connection act under this lease (a child process run by
    /// `labvisor lock -- cmd`). 128 random bits, hex.
    public let token: String
    /// The instruments it covers, in name order.
    public let instruments: [String]
    /// The client that holds it.
    public let holder: ClientRef
    /// When it was granted.
    public let grantedAt: Date

    public var description: String {
        "lease \(id) on \(instruments.joined(separator: ", ")) held by \(holder)"
    }
}

/// What a client asks the lease table for.
public enum LeaseRequest: Sendable, Hashable, CustomStringConvertible {
    /// These instruments, all or nothing.
    case names([String])
    /// Any `count` free instruments that match the query.
    case query(RequirementQuery, count: Int)

    /// The request as JSON, for allocation records.
    public var json: JSONValue {
        switch self {
        case .names(let names): ["names": .array(names.map(JSONValue.string))]
        case .query(let query, let count): ["where": query.json, "count": .int(count)]
        }
    }

    public var description: String {
        switch self {
        case .names(let names): names.joined(separator: ", ")
        case .query(let query, let count): count == 1 ? "any instrument matching \(query)" : "\(count) instruments matching \(query)"
        }
    }
}

/// Why a lease ended.
public enum ReleaseReason: Sendable, Hashable, CustomStringConvertible {
    /// Its holder released it.
    case released
    /// Its holder's connection ended.
    case clientDisconnected
    /// An administrator (or the daemon) revoked it.
    case revoked(by: String, reason: String)
    /// The daemon is shutting down.
    case shutdown
    /// One of its instruments left the inventory for good (unplugged past its grace period).
    case instrumentGone(reason: String)

    /// A short stable word for records: released, clientDisconnected, revoked, shutdown,
    /// instrumentGone.
    public var code: String {
        switch self {
        case .released: "released"
        case .clientDisconnected: "clientDisconnected"
        case .revoked: "revoked"
        case .shutdown: "shutdown"
        case .instrumentGone: "instrumentGone"
        }
    }

    public var description: String {
        switch self {
        case .revoked(let by, let reason): "revoked by \(by): \(reason)"
        case .instrumentGone(let reason): "instrument gone: \(reason)"
        default: code
        }
    }
}

/// The allocation record of one lease: who had what, asked how, waited how long, held it
/// how long, and why it ended. The store keeps these as the usage history.
public struct AllocationRecord: Sendable, Hashable {
    /// The lease id.
    public var leaseID: String
    /// The holder, as `ClientRef.description`.
    public var holder: String
    /// The holder's name (`ClientRef.name`: "uid 1000 pid 4242").
    public var holderName: String
    /// The holder's user id, when known.
    public var uid: UInt32?
    /// The holder's process id, when known.
    public var pid: Int32?
    /// The instruments granted.
    public var instruments: [String]
    /// What was asked for.
    public var request: LeaseRequest
    /// The request as JSON (`{"names": [...]}` or `{"where": {...}, "count": n}`).
    public var requirements: JSONValue { request.json }
    /// When the request was made.
    public var queuedAt: Date
    /// When it was granted.
    public var startedAt: Date
    /// When it ended; nil while held.
    public var releasedAt: Date?
    /// Why it ended; nil while held.
    public var releaseReason: ReleaseReason?

    /// Creates a record (the lease table makes them; the store's tests and tools too).
    public init(
        leaseID: String, holder: String, holderName: String, uid: UInt32? = nil, pid: Int32? = nil, instruments: [String],
        request: LeaseRequest, queuedAt: Date, startedAt: Date, releasedAt: Date? = nil, releaseReason: ReleaseReason? = nil
    ) {
        self.leaseID = leaseID
        self.holder = holder
        self.holderName = holderName
        self.uid = uid
        self.pid = pid
        self.instruments = instruments
        self.request = request
        self.queuedAt = queuedAt
        self.startedAt = startedAt
        self.releasedAt = releasedAt
        self.releaseReason = releaseReason
    }

    /// How long it was waited for.
    public var queueTime: TimeInterval { startedAt.timeIntervalSince(queuedAt) }
    /// How long it was held (until now while held).
    public var duration: TimeInterval { (releasedAt ?? Date()).timeIntervalSince(startedAt) }
}
