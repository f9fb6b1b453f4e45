import Foundation

/// The lifecycle state of one instrument. Transitions are checked against
/// `LifecycleTransitions`; an illegal one is rejected with an error naming both states and
/// nothing changes. Each accepted transition is published as a `stateChanged` event with
/// its reason.
public final class InstrumentLifecycle: Sendable {
    /// One accepted transition.
    public struct Transition: Sendable, Hashable {
        /// The state before.
        public var from: LifecycleState
        /// The state after.
        public var to: LifecycleState
        /// Why it happened ("opened by client 3", "device unplugged").
        public var reason: String
        /// When it happened.
        public var time: Date
    }

    /// The instrument's name.
    public let instrument: String
    private let events: (any EventSink)?
    private let current: LockedState<(state: LifecycleState, since: Date)>

    /// Creates the lifecycle of `instrument` in `initial` state, publishing to `events`.
    public init(instrument: String, initial: LifecycleState = .discovered, events: (any EventSink)? = nil) {
        self.instrument = instrument
        self.events = events
        current = LockedState((initial, Date()))
    }

    /// The current state.
    public var state: LifecycleState { current.withLock { $0.state } }

    /// The current state and since when.
    public var stateSince: (state: LifecycleState, since: Date) { current.withLock { $0 } }

    /// Moves to `next` if the table allows it from the current state, and publishes it.
    /// Throws `LabvisorError(.unavailable)` naming both states otherwise; the state is unchanged.
    @discardableResult
    public func transition(to next: LifecycleState, reason: String) throws(LabvisorError) -> Transition {
        try apply(expected: nil, next: next, reason: reason)
    }

    /// Moves to `next` only if the current state is `expected` (compare-and-set), so two
    /// tasks racing to, say, open an instrument cannot both succeed.
    @discardableResult
    public func transition(from expected: LifecycleState, to next: LifecycleState, reason: String)
        throws(LabvisorError) -> Transition
    {
        try apply(expected: expected, next: next, reason: reason)
    }

    private func apply(expected: LifecycleState?, next: LifecycleState, reason: String)
        throws(LabvisorError) -> Transition
    {
        let transition = try current.withLock { current throws(LabvisorError) -> Transition in
            let from = current.state
            if let expected, from != expected {
                throw LabvisorError(
                    .unavailable, "instrument \(instrument) is \(from), not \(expected): cannot go to \(next)",
                    fields: [
                        "instrument": .string(instrument), "state": .string(from.rawValue),
                        "expected": .string(expected.rawValue), "to": .string(next.rawValue),
                    ])
            }
            guard LifecycleTransitions.isAllowed(from: from, to: next) else {
                throw Self.illegal(instrument: instrument, from: from, to: next, reason: reason)
            }
            let now = Date()
            current = (next, now)
            return Transition(from: from, to: next, reason: reason, time: now)
        }
        events?.publish(
            Event(
                kind: .stateChanged, instrument: instrument,
                fields: [
                    "from": .string(transition.from.rawValue), "to": .string(next.rawValue),
                    "reason": .string(reason),
                ], time: transition.time))
        return transition
    }

    private static func illegal(instrument: String, from: LifecycleState, to: LifecycleState, reason: String)
        -> LabvisorError
    {
        LabvisorError(
            .unavailable, "illegal lifecycle transition of \(instrument) from \(from) to \(to) (\(reason))",
            fields: [
                "instrument": .string(instrument), "from": .string(from.rawValue), "to": .string(to.rawValue),
                "reason": .string(reason),
            ])
    }
}
