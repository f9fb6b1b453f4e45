import Foundation
import LabvisorCore
import LabvisorProtocol

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
