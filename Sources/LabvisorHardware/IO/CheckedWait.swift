import LabvisorCore

/// `suspend(until:register:expire:)` from `LabvisorCore`, with a `CheckedContinuation`
/// instead of an `UnsafeContinuation`; same contract, same deadline scheduler.
///
/// Why a second spelling of the one wait: the reactor thread resumes waiters within
/// microseconds, often before the waiting task has finished suspending. With an
/// `UnsafeContinuation` both the resume (inlined into our code) and the suspending task's
/// write to its async context are instrumented, and ThreadSanitizer reports a race between
/// them, because the runtime's atomic hand-over is invisible to it (swiftlang/swift#57803;
/// seen here once in ten runs of the serial tests). `CheckedContinuation.resume` runs in the
/// concurrency runtime, so TSan only sees our locks, which are correct. The cost is one
/// small allocation per wait.
func suspendChecked<Value: Sendable>(
    until deadline: ContinuousClock.Instant?,
    register: (CheckedContinuation<Value, any Error>) -> Void,
    expire: @escaping @Sendable (WaitEnd) -> Void
) async throws -> Value {
    func wait() async throws -> Value {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
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
