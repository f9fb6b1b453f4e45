import Synchronization

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
        case waiting(UnsafeContinuation<InterruptSignal, Never>)
        case fired(InterruptSignal)
    }

    private let state = Mutex(State.armed)

    /// Creates an armed interruption.
    public init() {}

    /// Fires the signal. Returns whether this call was the first (and so decided the signal).
    @discardableResult
    public func fire(_ signal: InterruptSignal) -> Bool {
        let waiter: UnsafeContinuation<InterruptSignal, Never>?
        let first: Bool
        (waiter, first) = state.withLock { state in
            switch state {
            case .armed:
                state = .fired(signal)
                return (nil, true)
            case .waiting(let continuation):
                state = .fired(signal)
                return (continuation, true)
            case .fired:
                return (nil, false)
            }
        }
        waiter?.resume(returning: signal)
        return first
    }

    /// The signal it fired with, if it has.
    public var firedSignal: InterruptSignal? {
        state.withLock { if case .fired(let signal) = $0 { signal } else { nil } }
    }

    /// Suspends until the signal fires. Only one task may wait.
    func wait() async -> InterruptSignal {
        await withUnsafeContinuation { continuation in
            let fired: InterruptSignal? = state.withLock { state in
                switch state {
                case .armed:
                    state = .waiting(continuation)
                    return nil
                case .fired(let signal):
                    return signal
                case .waiting:
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

/// Runs `body` in a child task and waits for the first of: the body finishing, `deadline`
/// passing, `interruption` firing, or the calling task being cancelled. Anything but the
/// body finishing cancels the body; either way this returns only after the body has ended,
/// so the caller can rely on it no longer running (a driver is never re-entered).
public func withInterruption<Value: Sendable>(
    _ interruption: Interruption,
    deadline: ContinuousClock.Instant? = nil,
    _ body: @escaping @Sendable () async throws -> Value
) async -> InterruptibleOutcome<Value> {
    let result = ResultSlot<Value>()
    return await withTaskGroup(of: Void.self) { group in
        group.addTask {
            let outcome: Result<Value, any Error>
            do { outcome = .success(try await body()) } catch { outcome = .failure(error) }
            result.value.withLock { $0 = outcome }
            interruption.fire(.completed)
        }
        if let deadline {
            group.addTask {
                do {
                    try await Task.sleep(until: deadline, clock: .continuous)
                    interruption.fire(.deadline)
                } catch {
                    // Cancelled: the body finished or was interrupted first.
                }
            }
        }
        let signal = await withTaskCancellationHandler {
            await interruption.wait()
        } onCancel: {
            interruption.fire(.cancelled)
        }
        group.cancelAll()
        await group.waitForAll()
        let ended = result.value.withLock { $0 }!
        return InterruptibleOutcome(signal: signal, result: ended)
    }
}

/// Carries a child task's result to its parent.
private final class ResultSlot<Value: Sendable>: Sendable {
    let value = Mutex<Result<Value, any Error>?>(nil)
}
