import Synchronization

/// The daemon's event bus: numbers published events and fans them out to subscribers, each
/// through its own bounded buffer, so a slow subscriber costs at most its buffer's worth of
/// memory and learns what it missed through a `gap` event.
///
/// `publish` is thread-safe, never blocks on a subscriber and never suspends. Sequence
/// numbers are assigned under the same lock that delivers the event to every buffer, so each
/// subscriber sees strictly increasing sequences.
public final class EventBus: EventSink, Sendable {
    /// The bus's mutable state, guarded by `state`.
    private struct State {
        var nextSequence: UInt64 = 1
        var channels: [EventChannel] = []
        var isFinished = false
    }

    /// The buffer size of subscriptions that do not choose their own.
    public let bufferSize: Int
    private let state = LockedState(State())
    /// The kinds some live subscription accepts (`Event.Kind.bit`s), kept in step with
    /// `state.channels`, so publishers skip building events nobody reads: the state store
    /// subscribes to instrument events only, and every call's lease events are skipped.
    private let observedKinds = Atomic<Int>(0)

    /// Creates a bus whose subscribers buffer at most `bufferSize` events by default
    /// (at least 1).
    public init(bufferSize: Int = 1024) {
        precondition(bufferSize > 0, "EventBus buffer size must be at least 1, got \(bufferSize)")
        self.bufferSize = bufferSize
    }

    /// Numbers `event` (1, 2, 3, ... in bus order; its `time` is kept) and delivers it to every
    /// subscriber whose filter accepts it. Ignored after `finish()`.
    public func publish(_ event: Event) {
        var event = event
        // Allocated only when a subscriber is suspended waiting, which costs a task wake-up
        // anyway.
        var wakeups: [EventBuffer.Continuation] = []
        state.withLock { state in
            guard !state.isFinished else { return }
            event.sequence = state.nextSequence
            state.nextSequence += 1
            for channel in state.channels where channel.filter.accepts(event) {
                if let continuation = channel.offer(event) { wakeups.append(continuation) }
            }
        }
        for continuation in wakeups { continuation.resume(returning: event) }
    }

    /// Subscribes to the events `filter` accepts, buffering at most `bufferSize` of them
    /// (the bus's default when `nil`). After `finish()` the subscription is born finished.
    public func subscribe(_ filter: EventFilter = .all, bufferSize: Int? = nil) -> EventSubscription {
        let channel = EventChannel(filter: filter, capacity: bufferSize ?? self.bufferSize)
        let registered = state.withLock { state in
            guard !state.isFinished else { return false }
            state.channels.append(channel)
            observedKinds.store(Self.kinds(of: state.channels), ordering: .relaxed)
            return true
        }
        if !registered { _ = channel.close(discard: false) }
        return EventSubscription(bus: self, channel: channel)
    }

    /// Whether a subscription accepts events of `kind` (a relaxed read: a subscription that
    /// begins concurrently with a publish may or may not see that event either way).
    public func isObserved(_ kind: Event.Kind) -> Bool { observedKinds.load(ordering: .relaxed) & kind.bit != 0 }

    /// The union of the kinds `channels` accept, as bits.
    private static func kinds(of channels: [EventChannel]) -> Int {
        channels.reduce(0) { union, channel in
            guard let kinds = channel.filter.kinds else { return ~0 }
            return kinds.reduce(union) { $0 | $1.bit }
        }
    }

    /// The number of live subscriptions.
    public var subscriberCount: Int { state.withLock { $0.channels.count } }

    /// Ends every subscription (each still yields its buffered events, then `nil`); later
    /// publishes are ignored and later subscriptions are born finished. Idempotent.
    public func finish() {
        let channels = state.withLock { state in
            state.isFinished = true
            observedKinds.store(0, ordering: .relaxed)
            defer { state.channels = [] }
            return state.channels
        }
        for channel in channels { channel.close(discard: false)?.resume(returning: nil) }
    }

    /// Stops delivering to `channel` (a subscription was cancelled or released).
    func unregister(_ channel: EventChannel) {
        state.withLock { state in
            if let index = state.channels.firstIndex(where: { $0 === channel }) {
                state.channels.remove(at: index)
                observedKinds.store(Self.kinds(of: state.channels), ordering: .relaxed)
            }
        }
    }
}

extension Event.Kind {
    /// This kind's bit in a set of kinds kept as one integer (`EventBus.isObserved`).
    var bit: Int {
        switch self {
        case .instrumentAdded: 1 << 0
        case .instrumentRemoved: 1 << 1
        case .stateChanged: 1 << 2
        case .leaseAcquired: 1 << 3
        case .leaseReleased: 1 << 4
        case .leaseRevoked: 1 << 5
        case .propertyChanged: 1 << 6
        case .callCompleted: 1 << 7
        case .callFailed: 1 << 8
        case .gap: 1 << 9
        }
    }
}
