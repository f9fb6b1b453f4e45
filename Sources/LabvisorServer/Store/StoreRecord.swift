import Foundation
import LabvisorCore
import LabvisorProtocol

/// One thing the state store writes. The daemon hands these to `StoreService.record(_:)`,
/// which queues them (never waiting for SQLite); the service's own task writes them.
public enum StoreRecord: Sendable, Hashable {
    /// A lease ended: its allocation record (with its release reason).
    case allocation(AllocationRecord)
    /// An administrative action.
    case audit(AuditLogEntry)
    /// An instrument was added to the inventory (first seen, or seen again).
    case instrumentSeen(InstrumentSighting)
    /// An instrument was active (its lifecycle changed): its last-seen time moves on.
    case instrumentActive(name: String, at: Date)
}

/// An instrument as the inventory saw it: its stable identity, its name and driver.
public struct InstrumentSighting: Sendable, Hashable {
    /// The stable identity key: `DeviceIdentity.stableKey` for a device
    /// (`VID:PID:serial`, `VID:PID@port-path` or the udev override), `config:<name>` for an
    /// instrument with no device (simulated, built-in).
    public var identity: String
    /// Its name in the inventory.
    public var name: String
    /// Its driver id.
    public var driver: String
    /// When it was seen.
    public var at: Date

    /// Creates a sighting.
    public init(identity: String, name: String, driver: String, at: Date = Date()) {
        self.identity = identity
        self.name = name
        self.driver = driver
        self.at = at
    }
}

/// An instrument the store knows: identity to name, first and last seen.
public struct KnownInstrument: Sendable, Hashable, Codable {
    /// The stable identity key (see `InstrumentSighting.identity`).
    public var identity: String
    /// The name it had when last seen.
    public var name: String
    /// Its driver id.
    public var driver: String
    /// When it was first seen.
    public var firstSeen: Date
    /// When it was last seen (added, or its lifecycle changed).
    public var lastSeen: Date
}

/// What a history or audit read selects.
public struct HistoryQuery: Sendable, Hashable {
    /// Only allocations that held this instrument (ignored by audit reads).
    public var instrument: String?
    /// Only records that ended (allocations) or happened (audit) at or after this time.
    public var since: Date?
    /// The most records to return, newest first.
    public var limit: Int

    /// The default and the largest `limit`.
    public static let defaultLimit = 100
    /// The largest `limit` a read accepts.
    public static let maximumLimit = 10_000

    /// Creates a query.
    public init(instrument: String? = nil, since: Date? = nil, limit: Int = HistoryQuery.defaultLimit) {
        self.instrument = instrument
        self.since = since
        self.limit = limit
    }

    /// A query from wire parameters (`since` in seconds since 1970), checked.
    ///
    /// - Throws: `invalidArgument` naming `limit` or `since`.
    public init(instrument: String?, sinceSeconds since: Double?, limit: Int?) throws(LabvisorError) {
        let limit = limit ?? Self.defaultLimit
        guard (1...Self.maximumLimit).contains(limit) else {
            throw LabvisorError.invalidArgument("limit", "must be between 1 and \(Self.maximumLimit), got \(limit)")
        }
        if let since, !since.isFinite {
            throw LabvisorError.invalidArgument("since", "must be a time in seconds since 1970, got \(since)")
        }
        self.init(instrument: instrument, since: since.map(Date.init(timeIntervalSince1970:)), limit: limit)
    }
}

extension AllocationHistoryEntry {
    /// The history entry of an ended allocation record (a live one counts as released now).
    public init(_ record: AllocationRecord) {
        var revokedBy: String?
        var detail: String?
        switch record.releaseReason {
        case .revoked(let by, let reason)?:
            revokedBy = by
            detail = reason
        case .instrumentGone(let reason)?:
            detail = reason
        default: break
        }
        self.init(
            lease: record.leaseID, holder: record.holderName, uid: record.uid, pid: record.pid,
            instruments: record.instruments, requirements: record.requirements,
            queuedAt: record.queuedAt.timeIntervalSince1970, grantedAt: record.startedAt.timeIntervalSince1970,
            releasedAt: (record.releasedAt ?? Date()).timeIntervalSince1970,
            reason: record.releaseReason?.code ?? ReleaseReason.released.code, revokedBy: revokedBy, detail: detail)
    }
}
