import DequeModule

/// The bounded buffer between the bus and one subscriber, with at most one suspended reader.
///
/// Lock order: the bus takes its own lock and then a channel's; a channel never takes the bus
/// lock, so the two cannot deadlock. Continuations are always resumed outside the lock.
final class EventChannel: Sendable {
    /// The subscriber's filter, applied by the bus before `offer`.
    let filter: EventFilter
    private let state: LockedState<EventBuffer>

    /// Creates an empty channel holding at most `capacity` events.
    init(filter: EventFilter, capacity: Int) {
        precondition(capacity > 0, "EventBus buffer size must be at least 1, got \(capacity)")
        self.filter = filter
        self.state = LockedState(EventBuffer(capacity: capacity))
    }

    /// Buffers `event`, or hands it straight to the waiting reader: in that case the
    /// continuation is returned and the caller must resume it (outside its own locks).
    func offer(_ event: Event) -> EventBuffer.Continuation? {
        state.withLock { $0.offer(event) }
    }

    /// Ends the channel. With `discard`, buffered events are dropped (cancellation);
    /// otherwise the reader drains them first (finish). Returns a waiting reader to resume
    /// with `nil`.
    func close(discard: Bool) -> EventBuffer.Continuation? {
        state.withLock { $0.close(discard: discard) }
    }

    /// Up to `limit` buffered events, without waiting (none when empty or closed and drained).
    func take(_ limit: Int) -> [Event] {
        state.withLock { $0.take(limit) }
    }

    /// Total events dropped so far.
    var missed: Int { state.withLock { $0.missedTotal } }
    /// Events currently buffered (not counting a pending gap event).
    var bufferedCount: Int { state.withLock { $0.events.count } }
    /// Whether a reader is suspended in `receive`.
    var hasWaiter: Bool { state.withLock { $0.waiter != nil } }

    /// The next event (a synthesized gap first, after drops), or `nil` once the channel is
    /// closed and drained, or when the calling task is cancelled. Suspends while empty.
    /// Only one reader may wait at a time.
    func receive(isolation actor: isolated (any Actor)? = #isolation) async -> Event? {
        if Task.isCancelled { return nil }
        let token: UInt64
        switch state.withLock({ $0.read() }) {
        case .event(let event): return event
        case .end: return nil
        case .wait(let next): token = next
        }
        return await withTaskCancellationHandler {
            await withWaitContinuation(isolation: actor) { (continuation: EventBuffer.Continuation) in
                // Re-check under the lock: an event, a close or the cancellation may have come
                // between `read` and here. Cancellation is checked under the same lock that
                // `onCancel` takes, so either `park` sees it or `onCancel` sees the waiter.
                let cancelled = Task.isCancelled
                let immediate = state.withLock {
                    $0.park(token: token, continuation: continuation, cancelled: cancelled)
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            if let continuation = state.withLock({ $0.unpark(token: token) }) {
                continuation.resume(returning: nil)
            }
        }
    }
}

/// The state of one channel; every method runs under the channel's lock.
struct EventBuffer: Sendable {
    /// How a suspended reader is resumed; every path that resumes one first removes it from
    /// `waiter` under the lock, so it is resumed exactly once (see `WaitContinuation`).
    typealias Continuation = WaitContinuation<Event?, Never>

    /// What `read` found.
    enum ReadResult {
        case event(Event)
        case end
        /// Nothing to read: suspend, identifying the wait with this token.
        case wait(UInt64)
    }

    let capacity: Int
    var events: Deque<Event> = []
    /// Drops since the reader last read; reported by the next gap event.
    var missedSinceRead = 0
    var missedTotal = 0
    var isClosed = false
    var waiter: (token: UInt64, continuation: Continuation)?
    var lastToken: UInt64 = 0

    init(capacity: Int) { self.capacity = capacity }

    mutating func offer(_ event: Event) -> Continuation? {
        if isClosed { return nil }
        if let waiter {
            // A reader waits only on an empty buffer with no pending gap: hand over directly.
            self.waiter = nil
            return waiter.continuation
        }
        if events.count >= capacity {
            events.removeFirst()
            missedSinceRead += 1
            missedTotal += 1
        }
        events.append(event)
        return nil
    }

    /// The next buffered event (a synthesized gap first, after drops), or `nil` when empty.
    mutating func nextReady() -> Event? {
        guard let first = events.first else { return nil }
        if missedSinceRead > 0 {
            let gap = Event(
                kind: .gap, instrument: nil, fields: ["missed": .int(missedSinceRead)],
                sequence: first.sequence, time: first.time)
            missedSinceRead = 0
            return gap
        }
        return events.removeFirst()
    }

    /// Up to `limit` buffered events, in order, without waiting.
    mutating func take(_ limit: Int) -> [Event] {
        var taken: [Event] = []
        while taken.count < limit, let event = nextReady() {
            if taken.isEmpty { taken.reserveCapacity(Swift.min(limit, events.count + 1)) }
            taken.append(event)
        }
        return taken
    }

    mutating func read() -> ReadResult {
        if let event = nextReady() { return .event(event) }
        if isClosed { return .end }
        precondition(waiter == nil, "EventSubscription supports only one concurrent next()")
        lastToken &+= 1
        return .wait(lastToken)
    }

    /// Stores the waiting reader, or returns what to resume it with right away.
    mutating func park(token: UInt64, continuation: Continuation, cancelled: Bool) -> Event?? {
        if cancelled { return .some(nil) }
        switch read() {
        case .event(let event): return .some(event)
        case .end: return .some(nil)
        case .wait:
            waiter = (token, continuation)
            return nil
        }
    }

    mutating func unpark(token: UInt64) -> Continuation? {
        guard let waiter, waiter.token == token else { return nil }
        self.waiter = nil
        return waiter.continuation
    }

    mutating func close(discard: Bool) -> Continuation? {
        isClosed = true
        if discard {
            events.removeAll()
            missedSinceRead = 0
        }
        let continuation = waiter?.continuation
        waiter = nil
        return continuation
    }
}
