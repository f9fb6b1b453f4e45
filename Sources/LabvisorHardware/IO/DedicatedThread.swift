#if canImport(Glibc)
    import Glibc
#endif
import LabvisorCore

/// Starts a POSIX thread for work that blocks (discovery's `poll()`, libusb's event handling,
/// a test's read to the end of a pipe), so it never blocks a thread of Swift's cooperative
/// pool: two threads on this machine, which Dispatch's global queues share on Linux.
public enum DedicatedThread {
    /// The body, boxed to pass through `pthread_create`'s `void *`.
    private final class Body: Sendable {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    /// Runs `body` on a new thread; `what` names it in the error. A detached thread cleans up
    /// after itself; a joinable one must be joined (`pthread_join`) with the returned id.
    @discardableResult
    public static func start(
        _ what: String, detached: Bool = true, _ body: @escaping @Sendable () -> Void
    ) throws(LabvisorError) -> pthread_t {
        let box = Unmanaged.passRetained(Body(body)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(
            &thread, nil,
            { argument in
                let body = Unmanaged<Body>.fromOpaque(argument!).takeRetainedValue()
                body.run()
                return nil
            }, box)
        guard result == 0 else {
            Unmanaged<Body>.fromOpaque(box).release()
            throw LabvisorError(
                .resourceExhausted, "could not start the \(what) thread (pthread_create failed)",
                fields: ["errno": .int(Int(result))])
        }
        if detached { pthread_detach(thread) }
        return thread
    }

    /// How a thread of `run` is scheduled.
    public enum Priority: Sendable {
        /// As every other thread.
        case normal
        /// Only when no normal thread wants the CPU (nice 19): for long CPU-bound work, such
        /// as fuzzing, beside work that must answer on time.
        case background
    }

    /// `body`'s result, computed on a new (detached) thread while the caller's task is
    /// suspended.
    ///
    /// - Throws: what `body` throws; `resourceExhausted` when no thread can be started.
    public static func run<Value: Sendable>(
        _ priority: Priority = .normal, _ body: @escaping @Sendable () throws -> Value
    ) async throws -> Value {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Value, any Error>) in
            do {
                try start("blocking work") {
                    // On Linux the nice value is per thread, and `who` 0 is the calling thread.
                    if priority == .background { _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 19) }
                    continuation.resume(with: Result { try body() })
                }
            } catch {
                continuation.resume(throwing: error)
            }
        }
    }
}
