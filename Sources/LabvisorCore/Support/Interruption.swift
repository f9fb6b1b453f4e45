
/// Why an interruptible body stopped being waited for.
public enum InterruptSignal: Sendable, Hashable {
    /// The body finished on its own.
    case completed
    /// Its deadline passed.
    case deadline
    /// The waiting task was cancelled.
    case cancelled
    /// Something outside asked it to stop; the string says who or why.
    case interrupted(String)
}

/// A one-shot signal that stops a body run by `withInterruption` from outside: the first
/// `fire` wins, later ones are ignored. Used by `RunState.cancel` and by `immediate` calls
/// that interrupt the call in progress.
public final class Interruption: Sendable {
    private enum State {
        case armed
        case waiting(WaitContinuation<InterruptSignal, Never>)
        case watched(@Sendable (InterruptSignal) -> Void)
        case fired(InterruptSignal)
    }

    private let state = LockedState(State.armed)

    /// Creates an armed interruption.
    public init() {}

    /// Fires the signal. Returns whether this call was the first (and so decided the signal).
    @discardableResult
    public func fire(_ signal: InterruptSignal) -> Bool {
        enum Told {
            case nobody, waiter(WaitContinuation<InterruptSignal, Never>), watcher(@Sendable (InterruptSignal) -> Void)
        }
        let (told, first) = state.withLock { state -> (Told, Bool) in
            switch state {
            case .armed:
                state = .fired(signal)
                return (.nobody, true)
            case .waiting(let continuation):
                state = .fired(signal)
                return (.waiter(continuation), true)
            case .watched(let action):
                state = .fired(signal)
                return (.watcher(action), true)
            case .fired:
                return (.nobody, false)
            }
        }
        switch told {
        case .nobody: break
        case .waiter(let continuation): continuation.resume(returning: signal)
        case .watcher(let action): action(signal)
        }
        return first
    }

    /// Runs `action` with the signal when it fires (at once if it has). Instead of `wait()`:
    /// one of the two, once.
    func whenFired(_ action: @escaping @Sendable (InterruptSignal) -> Void) {
        let fired: InterruptSignal? = state.withLock { state in
            switch state {
            case .armed:
                state = .watched(action)
                return nil
            case .fired(let signal):
                return signal
            case .waiting, .watched:
                preconditionFailure("Interruption watched twice")
            }
        }
        if let fired { action(fired) }
    }

    /// The signal it fired with, if it has.
    public var firedSignal: InterruptSignal? {
        state.withLock { if case .fired(let signal) = $0 { signal } else { nil } }
    }

    /// Suspends until the signal fires. Only one task may wait.
    func wait() async -> InterruptSignal {
        await withWaitContinuation { continuation in
            let fired: InterruptSignal? = state.withLock { state in
                switch state {
                case .armed:
                    state = .waiting(continuation)
                    return nil
                case .fired(let signal):
                    return signal
                case .waiting, .watched:
                    preconditionFailure("Interruption.wait() called twice")
                }
            }
            if let fired { continuation.resume(returning: fired) }
        }
    }
}

/// What `withInterruption` observed: which signal came first, and how the body ended.
public struct InterruptibleOutcome<Value: Sendable>: Sendable {
    /// The first signal: `.completed` when the body finished before anything else happened.
    public var signal: InterruptSignal
    /// The body's own result. When the signal is not `.completed`, the body was cancelled and
    /// this is whatever it returned or threw after that.
    public var result: Result<Value, any Error>
}

/// Runs `body` in a task of its own and waits for the first of: the body finishing,
/// `deadline` passing, `interruption` firing, or the calling task being cancelled. Anything
/// but the body finishing cancels the body and waits for it to end, so in every case the
/// caller can rely on it no longer running when this returns (a driver is never re-entered).
///
/// The body runs in an unstructured task rather than a task-group child so that the normal
/// case costs one suspension: the caller resumes as soon as the body has stored its result,
/// without joining the task, which ends on its own right after. (A group child cost a second
/// suspension for the join; `labvisor-bench calls.dispatch` measures this path.)
///
/// With `request`, the current wire request's task (`RequestTask.current`), the body runs
/// inline in it instead, and anything but the body finishing cancels that task.
public func withInterruption<Value: Sendable>(
    _ interruption: Interruption,
    deadline: ContinuousClock.Instant? = nil,
    inline request: RequestTask? = nil,
    _ body: @escaping @Sendable () async throws -> Value
) async -> InterruptibleOutcome<Value> {
    if let request, request.claim() {
        defer { request.unclaim() }
        return await withInterruptionInline(interruption, deadline: deadline, request: request, body)
    }
    let slot = ResultSlot<Value>()
    // The body is the caller's work, in a task of its own only so that it can be abandoned:
    // it runs where the caller runs (its task executor preference, as a child task would),
    // not on the global executor with a thread hop there and back.
    let preferred = withUnsafeCurrentTask { $0?.unownedTaskExecutor?.asTaskExecutor() }
    let task = Task(executorPreference: preferred) {
        let outcome: Result<Value, any Error>
        do { outcome = .success(try await body()) } catch { outcome = .failure(error) }
        slot.value.withLock { $0 = outcome }
        interruption.fire(.completed)
    }
    let timer = deadline.map { DeadlineScheduler.shared.schedule(at: $0) { interruption.fire(.deadline) } }
    let signal = await withTaskCancellationHandler {
        await interruption.wait()
    } onCancel: {
        interruption.fire(.cancelled)
    }
    if let timer { DeadlineScheduler.shared.cancel(timer) }
    if signal != .completed {
        task.cancel()
        await task.value
    }
    return InterruptibleOutcome(signal: signal, result: slot.value.withLock { $0 }!)
}

/// `withInterruption` for a body run in `request`'s own task.
private func withInterruptionInline<Value: Sendable>(
    _ interruption: Interruption, deadline: ContinuousClock.Instant?, request: RequestTask,
    _ body: @escaping @Sendable () async throws -> Value
) async -> InterruptibleOutcome<Value> {
    interruption.whenFired { signal in
        if signal != .completed { request.cancel() }
    }
    let timer = deadline.map { DeadlineScheduler.shared.schedule(at: $0) { interruption.fire(.deadline) } }
    let result: Result<Value, any Error>
    do {
        // Calls the body makes run the usual way: only this one owns the request's task.
        result = .success(
            try await withTaskCancellationHandler {
                try await RequestTask.$current.withValue(nil) { try await body() }
            } onCancel: {
                interruption.fire(.cancelled)
            })
    } catch {
        result = .failure(error)
    }
    interruption.fire(.completed)
    if let timer { DeadlineScheduler.shared.cancel(timer) }
    return InterruptibleOutcome(signal: interruption.firedSignal ?? .completed, result: result)
}

/// Carries the body's result to the caller.
private final class ResultSlot<Value: Sendable>: Sendable {
    let value = LockedState<Result<Value, any Error>?>(nil)
}
