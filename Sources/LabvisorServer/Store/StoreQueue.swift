import DequeModule
import LabvisorCore

/// The records waiting for the store's writer. `append` never blocks and never suspends (a
/// lock, an append, at most one wake-up), so the request path never waits for SQLite; the
/// writer takes what has gathered in batches. Bounded: past `capacity` the oldest waiting
/// record is dropped and counted, so a stuck disk costs bounded memory.
final class StoreQueue: Sendable {
    private struct State {
        var records: Deque<StoreRecord> = []
        var waiter: WaitContinuation<Void, any Error>?
        var finished = false
        var dropped = 0
    }

    /// The most records waiting at once.
    let capacity: Int
    private let state = LockedState(State())

    init(capacity: Int) {
        precondition(capacity > 0, "a store queue holds at least one record, not \(capacity)")
        self.capacity = capacity
    }

    /// Queues a record for the writer.
    func append(_ record: StoreRecord) {
        let waiter = state.withLock { state -> WaitContinuation<Void, any Error>? in
            if state.records.count == capacity {
                state.records.removeFirst()
                state.dropped += 1
            }
            state.records.append(record)
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Up to `limit` records, oldest first, waiting while none is queued. Returns `[]` once
    /// `finish()` was called (or the calling task was cancelled) and the queue is drained.
    func next(limit: Int) async -> [StoreRecord] {
        if let batch = take(limit: limit) { return batch }
        do {
            try await suspend(until: nil) { (continuation: WaitContinuation<Void, any Error>) in
                let now = state.withLock { state -> Bool in
                    if !state.records.isEmpty || state.finished { return true }
                    state.waiter = continuation
                    return false
                }
                if now { continuation.resume() }
            } expire: { _ in
                let waiter = self.state.withLock { state in
                    defer { state.waiter = nil }
                    return state.waiter
                }
                waiter?.resume(throwing: CancellationError())
            }
        } catch {
            // Cancelled: from now on the writer drains what is queued and stops.
            finish()
        }
        return take(limit: limit) ?? []
    }

    /// Ends the queue: the writer takes what is left, then `next` returns `[]`. Records
    /// appended later are still taken while the writer drains.
    func finish() {
        let waiter = state.withLock { state -> WaitContinuation<Void, any Error>? in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Records waiting now.
    var count: Int { state.withLock { $0.records.count } }

    /// Records dropped because the queue was full, since it was created.
    var dropped: Int { state.withLock { $0.dropped } }

    /// Whether `finish()` was called.
    var isFinished: Bool { state.withLock { $0.finished } }

    /// A batch if records are queued; `[]` if finished and empty; nil if the writer must wait.
    func take(limit: Int) -> [StoreRecord]? {
        state.withLock { state -> [StoreRecord]? in
            if state.records.isEmpty { return state.finished ? [] : nil }
            let count = min(limit, state.records.count)
            defer { state.records.removeFirst(count) }
            return Array(state.records.prefix(count))
        }
    }
}
