/// A task that exists to run one request and ends after it: the wire server's task per
/// request. Inside `run`, a call's body (`CallQueue`) runs inline in this task instead of a
/// task of its own, and an interruption of the call (deadline, `immediate` call, unplug)
/// cancels this task, which nothing else runs in.
///
/// A separate task per call body cost ~25 us of server CPU per call over the wire
/// (`labvisor-bench wire.echo`, docs/benchmarks.md): its creation, its scheduling, and the
/// hop back to the waiting task.
///
/// Only the task that entered `run` may use it, once at a time: tasks created inside it
/// inherit the task-local but not the right to be cancelled for it (they are told apart by
/// their task identity), and it refuses everything after `run` returns.
public final class RequestTask: Sendable {
    /// The request task the current task runs, if any.
    @TaskLocal public static var current: RequestTask?

    private struct State {
        /// The identity of the task in `run` (its `UnsafeCurrentTask`'s hash, which is its
        /// address hashed with the process's seed: equal only for the same live task).
        var owner: Int?
        var cancel: (@Sendable () -> Void)?
        var cancelRequested = false
        var inUse = false
        var ended = false
    }

    private let state = LockedState(State())

    /// Creates one; the server calls `run` in the new task and `setCancel` with its handle.
    public init() {}

    /// Runs `body` as this request task.
    public func run<Value: Sendable>(_ body: () async -> Value) async -> Value {
        let owner = withUnsafeCurrentTask { $0?.hashValue }
        state.withLock { $0.owner = owner }
        defer { state.withLock { $0.ended = true } }
        return await Self.$current.withValue(self) { await body() }
    }

    /// How to cancel the task (its `Task` handle's `cancel`), given once it exists; a
    /// cancellation asked for before runs now.
    public func setCancel(_ cancel: @escaping @Sendable () -> Void) {
        let now = state.withLock { state -> Bool in
            state.cancel = cancel
            return state.cancelRequested
        }
        if now { cancel() }
    }

    /// Takes the right to run a body inline, for the current task when it is this request's
    /// own and nothing else has it.
    func claim() -> Bool {
        let me = withUnsafeCurrentTask { $0?.hashValue }
        return state.withLock { state in
            guard !state.ended, !state.inUse, me != nil, state.owner == me else { return false }
            state.inUse = true
            return true
        }
    }

    /// Gives back what `claim` took.
    func unclaim() {
        state.withLock { $0.inUse = false }
    }

    /// Cancels the task (now, or once `setCancel` gives the means).
    func cancel() {
        let cancel = state.withLock { state -> (@Sendable () -> Void)? in
            state.cancelRequested = true
            return state.cancel
        }
        cancel?()
    }
}
