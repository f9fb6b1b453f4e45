/// The continuation every wait in Labvisor suspends on: checked in debug builds, unsafe in
/// release builds.
///
/// Debug builds (which run the tests, and the ThreadSanitizer pass) use `CheckedContinuation`.
/// It catches a double resume or a leaked waiter. TSan also needs it: waiters are often
/// resumed within microseconds, before the waiting task has finished suspending. With an
/// inlined `UnsafeContinuation.resume`, TSan then reports a race that the runtime's atomic
/// hand-over rules out (swiftlang/swift#57803; seen in one of ten runs of the serial tests).
/// `CheckedContinuation.resume` runs inside the runtime, so TSan sees only our locks.
///
/// Release builds use `UnsafeContinuation`. The checked one allocates and does atomic
/// bookkeeping on every wait: ~1.5 us per call on `labvisor-bench calls.dispatch`. Every
/// resume is decided under a lock, which is what makes the unsafe one sound.
#if DEBUG
    public typealias WaitContinuation<Value, Failure: Error> = CheckedContinuation<Value, Failure>
#else
    public typealias WaitContinuation<Value, Failure: Error> = UnsafeContinuation<Value, Failure>
#endif

/// Suspends with a `WaitContinuation` that cannot fail.
@inline(__always)
public func withWaitContinuation<Value>(
    isolation: isolated (any Actor)? = #isolation,
    _ body: (WaitContinuation<Value, Never>) -> Void
) async -> sending Value {
    #if DEBUG
        await withCheckedContinuation(isolation: isolation, body)
    #else
        await withUnsafeContinuation(isolation: isolation, body)
    #endif
}

/// Suspends with a throwing `WaitContinuation`.
@inline(__always)
public func withThrowingWaitContinuation<Value>(
    isolation: isolated (any Actor)? = #isolation,
    _ body: (WaitContinuation<Value, any Error>) -> Void
) async throws -> sending Value {
    #if DEBUG
        try await withCheckedThrowingContinuation(isolation: isolation, body)
    #else
        try await withUnsafeThrowingContinuation(isolation: isolation, body)
    #endif
}
