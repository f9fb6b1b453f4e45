import HeapModule

#if canImport(Glibc)
    import Glibc
#endif

/// Runs actions at deadlines, for every deadline in the process (call timeouts, lease
/// waits): a min-heap of deadlines and one thread of its own that sleeps until the earliest
/// (`poll` on a pipe that `schedule` writes to when a new deadline is earlier).
///
/// Scheduling and cancelling cost a lock and a heap insert or a dictionary removal, not a
/// task each: with a sleeping task per call, a call with a deadline took ~13 us in
/// `labvisor-bench calls.dispatch-deadline`; with this scheduler it takes ~4.5 us. Cancelled deadlines stay in the heap
/// until they come up (or a compaction), so the common "call finished long before its
/// timeout" path never wakes anyone.
///
/// A thread, not a sleeping task: a task wakes only when a thread of the 2-thread pool is
/// free, so work that keeps the pool busy (CPU-bound drivers, a loaded machine) made
/// deadlines fire seconds late; the thread is woken by the kernel at the deadline.
public final class DeadlineScheduler: Sendable {
    /// Identifies one scheduled action, to cancel it.
    public struct Token: Sendable, Hashable {
        fileprivate let id: UInt64
    }

    fileprivate struct Entry: Comparable {
        let deadline: ContinuousClock.Instant
        let id: UInt64
        static func < (left: Entry, right: Entry) -> Bool {
            (left.deadline, left.id) < (right.deadline, right.id)
        }
    }

    fileprivate struct State {
        var heap = Heap<Entry>()
        var actions: [UInt64: @Sendable () -> Void] = [:]
        var nextID: UInt64 = 1
        /// What the thread sleeps until (nil: until woken).
        var sleepsUntil: ContinuousClock.Instant?
        var stopped = false
    }

    /// The scheduler every component uses.
    public static let shared = DeadlineScheduler()

    private let state = LockedState(State())
    /// Written to wake the thread (a pipe's write end; the thread reads the other).
    private let wake: Int32

    /// Creates a scheduler and its thread (tests may use their own; the thread ends when the
    /// scheduler does).
    public init() {
        var ends: [Int32] = [-1, -1]
        precondition(pipe(&ends) == 0, "pipe failed: \(errno)")
        for end in ends {
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
        }
        wake = ends[1]
        let context = Unmanaged.passRetained(SchedulerThread(state: state, wakeRead: ends[0]))
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, { raw in
            let context = Unmanaged<SchedulerThread>.fromOpaque(raw!).takeRetainedValue()
            context.run()
            return nil
        }, context.toOpaque())
        precondition(created == 0, "pthread_create failed: \(created)")
        pthread_detach(thread)
    }

    deinit {
        state.withLock { $0.stopped = true }
        // The thread's poll sees the hang-up, then `stopped`, and closes the read end.
        close(wake)
    }

    /// Runs `action` once at `deadline`, unless cancelled first. `action` runs on the
    /// scheduler's thread and must be quick (resume a continuation, fire an interruption).
    public func schedule(at deadline: ContinuousClock.Instant, _ action: @escaping @Sendable () -> Void) -> Token {
        let (token, wakeNow) = state.withLock { state -> (Token, Bool) in
            let id = state.nextID
            state.nextID += 1
            state.heap.insert(Entry(deadline: deadline, id: id))
            state.actions[id] = action
            // Drop cancelled entries in bulk when they outnumber the live ones.
            if state.heap.count > 2 * state.actions.count + 1024 {
                state.heap = Heap(state.heap.unordered.filter { state.actions[$0.id] != nil })
            }
            guard state.sleepsUntil.map({ deadline < $0 }) ?? true else { return (Token(id: id), false) }
            state.sleepsUntil = deadline
            return (Token(id: id), true)
        }
        if wakeNow { Self.signal(wake) }
        return token
    }

    /// Cancels a scheduled action; it will not run (unless it is running already).
    public func cancel(_ token: Token) {
        _ = state.withLock { $0.actions.removeValue(forKey: token.id) }
    }

    /// Actions scheduled and not yet run or cancelled.
    public var pending: Int { state.withLock { $0.actions.count } }

    /// Wakes the thread (a full pipe means it is awake already).
    fileprivate static func signal(_ fd: Int32) {
        var one: UInt8 = 1
        _ = write(fd, &one, 1)
    }
}

/// The scheduler's thread: runs what is due, then sleeps until the next deadline or a wake-up.
/// Holds the state, not the scheduler, so the scheduler can end (and stop it).
private final class SchedulerThread: Sendable {
    let state: LockedState<DeadlineScheduler.State>
    let wakeRead: Int32

    init(state: LockedState<DeadlineScheduler.State>, wakeRead: Int32) {
        self.state = state
        self.wakeRead = wakeRead
    }

    func run() {
        while true {
            let now = ContinuousClock.now
            let (due, next, stopped) = state.withLock { state -> ([@Sendable () -> Void], ContinuousClock.Instant?, Bool) in
                var due: [@Sendable () -> Void] = []
                while let top = state.heap.min {
                    if let action = state.actions[top.id] {
                        guard top.deadline <= now else { break }
                        due.append(action)
                        state.actions[top.id] = nil
                    }
                    state.heap.removeMin()
                }
                state.sleepsUntil = state.heap.min?.deadline
                return (due, state.sleepsUntil, state.stopped)
            }
            if stopped {
                close(wakeRead)
                return
            }
            for action in due { action() }
            var woken = pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)
            // Milliseconds, rounded up: never woken before the deadline (and if so, the loop
            // finds nothing due and sleeps again).
            let timeout = next.map { next -> Int32 in
                let wait = max(.zero, next - ContinuousClock.now).components
                let milliseconds = wait.seconds * 1000 + (wait.attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
                return Int32(clamping: milliseconds)
            } ?? -1
            _ = poll(&woken, 1, timeout)
            var drained = [UInt8](repeating: 0, count: 64)
            while read(wakeRead, &drained, drained.count) > 0 {}
        }
    }
}
