/// Why a wait registered with `suspend(until:register:expire:)` ended early.
public enum WaitEnd: Sendable, Hashable {
    /// The deadline passed.
    case deadline
    /// The waiting task was cancelled.
    case cancelled
}

/// Suspends until a continuation stored by `register` is resumed, with a deadline and a
/// cancellation path. This is the one wait used by every queue in Labvisor (leases, calls).
///
/// - `register` runs synchronously: it stores the continuation under the caller's lock (or
///   resumes it at once).
/// - `expire` is called when the deadline passes or the task is cancelled. It must resume the
///   continuation with an error if it is still stored and do nothing otherwise; the caller's
///   lock decides which of "granted" and "expired" came first, so exactly one happens.
///
/// `expire` may be called more than once, and also before `register` ran; the check after
/// `register` covers the case where the deadline or the cancellation came first.
///
/// The continuation is a `WaitContinuation`: checked in debug builds, unsafe in release.
public func suspend<Value: Sendable>(
    until deadline: ContinuousClock.Instant?,
    register: (WaitContinuation<Value, any Error>) -> Void,
    expire: @escaping @Sendable (WaitEnd) -> Void
) async throws -> Value {
    func wait() async throws -> Value {
        try await withTaskCancellationHandler {
            try await withThrowingWaitContinuation { continuation in
                register(continuation)
                if Task.isCancelled {
                    expire(.cancelled)
                } else if let deadline, ContinuousClock.now >= deadline {
                    expire(.deadline)
                }
            }
        } onCancel: {
            expire(.cancelled)
        }
    }
    guard let deadline else { return try await wait() }
    let timer = DeadlineScheduler.shared.schedule(at: deadline) { expire(.deadline) }
    defer { DeadlineScheduler.shared.cancel(timer) }
    return try await wait()
}
