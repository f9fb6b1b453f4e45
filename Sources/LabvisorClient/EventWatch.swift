import LabvisorProtocol

/// The events of one `Labvisor.watch`, in the daemon's order: an `AsyncSequence` that ends
/// when the connection does, when the reading task is cancelled, or after `cancel()`.
///
/// Events arrive a socket read at a time and wait here, at most `capacity` of them: past that
/// the oldest are dropped, and the reader's next event is a `gap` event whose
/// `fields["missed"]` says how many (as the daemon reports what it dropped before sending).
/// A reader takes everything waiting at once, so it pays one lock and at most one wake-up
/// per batch, not per event. One reader at a time.
public final class EventWatch: AsyncSequence, Sendable {
    public typealias Element = Event
    public typealias Failure = Never

    private struct State {
        var waiting: [Event] = []
        /// Drops not yet reported by a gap event.
        var missed = 0
        var missedTotal = 0
        var ended = false
        var reader: WaitContinuation<[Event]?, any Error>?
    }

    /// Events kept for a reader that is behind before the oldest are dropped.
    public let capacity: Int
    private let state = LockedState(State())
    private let onCancel: @Sendable () -> Void

    /// A watch keeping at most `capacity` events; `onCancel` runs once when `cancel()` ends it.
    init(capacity: Int, onCancel: @escaping @Sendable () -> Void) {
        self.capacity = Swift.max(1, capacity)
        self.onCancel = onCancel
    }

    deinit { cancel() }

    /// Keeps `event` for the reader without waking it (called on the connection's event loop
    /// for each event of a read; `handOver()` follows once the read is handled).
    func keep(_ event: Event) {
        state.withLock { state in
            guard !state.ended else { return }
            state.waiting.append(event)
            if state.waiting.count > capacity {
                state.waiting.removeFirst()
                state.missed += 1
                state.missedTotal += 1
            }
        }
    }

    /// Wakes a waiting reader with everything kept.
    func handOver() {
        let handOver = state.withLock { state -> (WaitContinuation<[Event]?, any Error>, [Event])? in
            guard let reader = state.reader, !state.waiting.isEmpty else { return nil }
            state.reader = nil
            return (reader, Self.take(&state))
        }
        if let (reader, batch) = handOver { reader.resume(returning: batch) }
    }

    /// Ends the watch: the reader gets what is waiting, then the end.
    func finish() {
        let reader = state.withLock { state -> WaitContinuation<[Event]?, any Error>? in
            state.ended = true
            defer { state.reader = nil }
            return state.reader
        }
        reader?.resume(returning: nil)
    }

    /// Stops the watch: events waiting are dropped, a waiting reader gets the end, and the
    /// connection stops handing events to it. Idempotent.
    public func cancel() {
        let (reader, first) = state.withLock { state -> (WaitContinuation<[Event]?, any Error>?, Bool) in
            let first = !state.ended
            state.ended = true
            state.waiting = []
            defer { state.reader = nil }
            return (state.reader, first)
        }
        reader?.resume(returning: nil)
        if first { onCancel() }
    }

    /// Events dropped here so far because the reader was behind.
    public var missed: Int { state.withLock { $0.missedTotal } }

    /// Everything waiting (a gap event first after drops), or `nil` at the end; waits while
    /// nothing is. Cancelling the task ends the wait with `nil`.
    func nextBatch() async -> [Event]? {
        let state = self.state
        let ready = state.withLock { state -> [Event]?? in
            if !state.waiting.isEmpty { return .some(Self.take(&state)) }
            return state.ended ? .some(nil) : nil
        }
        if let ready { return ready }
        return try? await suspend(until: nil) { (reader: WaitContinuation<[Event]?, any Error>) in
            let immediate = state.withLock { state -> [Event]?? in
                if !state.waiting.isEmpty { return .some(Self.take(&state)) }
                if state.ended { return .some(nil) }
                precondition(state.reader == nil, "EventWatch supports only one reader at a time")
                state.reader = reader
                return nil
            }
            if let immediate { reader.resume(returning: immediate) }
        } expire: { _ in
            let reader = state.withLock { state in
                defer { state.reader = nil }
                return state.reader
            }
            reader?.resume(throwing: CancellationError())
        }
    }

    /// Takes what is waiting, a gap event first when some were dropped.
    private static func take(_ state: inout State) -> [Event] {
        var batch: [Event] = []
        swap(&batch, &state.waiting)
        if state.missed > 0, let first = batch.first {
            let missed = state.missed
            state.missed = 0
            batch.insert(Event(kind: .gap, fields: ["missed": .int(missed)], sequence: first.sequence, time: first.time), at: 0)
        }
        return batch
    }

    /// Returns the iterator; it keeps the watch alive.
    public func makeAsyncIterator() -> Iterator {
        Iterator(watch: self)
    }

    /// Reads a watch's events one at a time, a batch at a time from the watch.
    public struct Iterator: AsyncIteratorProtocol {
        public typealias Failure = Never

        private let watch: EventWatch
        private var batch: [Event] = []
        private var position = 0
        private var isDone = false

        init(watch: EventWatch) { self.watch = watch }

        /// The next event; `nil` at the end (the connection ended, `cancel()`, or the task
        /// was cancelled), and from then on.
        public mutating func next(isolation actor: isolated (any Actor)? = #isolation) async -> Event? {
            if position == batch.count {
                if isDone { return nil }
                guard let next = await watch.nextBatch(), !next.isEmpty else {
                    isDone = true
                    batch = []
                    position = 0
                    return nil
                }
                batch = next
                position = 0
            }
            defer { position += 1 }
            return batch[position]
        }

        /// The next event; `nil` at the end.
        public mutating func next() async -> Event? {
            await next(isolation: nil)
        }
    }
}
