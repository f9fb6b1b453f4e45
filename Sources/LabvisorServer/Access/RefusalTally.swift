/// The refusals of one connection before it authenticated, as the audit log counts them
/// (`RefusalAudit`): the first `RefusalAudit.perConnection` are recorded one by one, the rest
/// only counted, for one summary entry when the connection closes.
public final class RefusalTally: Sendable {
    private struct Counts: Sendable {
        var recorded = 0
        var omitted = 0
        /// The last refusal left out: "METHOD: REASON".
        var lastOmitted: String?
    }

    private let counts = LockedState(Counts())

    /// Creates an empty tally.
    public init() {}

    /// Counts one refusal; `true` when it is among the first `limit` (to be recorded).
    func admit(limit: Int, describing refusal: @autoclosure () -> String) -> Bool {
        counts.withLock { counts in
            if counts.recorded < limit {
                counts.recorded += 1
                return true
            }
            counts.omitted += 1
            counts.lastOmitted = refusal()
            return false
        }
    }

    /// The refusals left out so far and the last of them, and starts counting again from none
    /// left out (`nil`: none).
    func takeOmitted() -> (count: Int, last: String)? {
        counts.withLock { counts in
            guard counts.omitted > 0, let last = counts.lastOmitted else { return nil }
            defer {
                counts.omitted = 0
                counts.lastOmitted = nil
            }
            return (counts.omitted, last)
        }
    }

    /// How many refusals were recorded one by one.
    public var recorded: Int { counts.withLock { $0.recorded } }
}
