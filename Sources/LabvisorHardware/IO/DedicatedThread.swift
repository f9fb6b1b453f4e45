#if canImport(Glibc)
    import Glibc
#endif
import CLinuxIO
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

    /// Runs `body` on a new thread; `what` names it in the error and, cut to the kernel's 15
    /// bytes, names the thread itself (`top -H`, `perf`, `/proc/PID/task/*/comm`), which
    /// would otherwise inherit its creator's name. A detached thread cleans up after itself;
    /// a joinable one must be joined (`pthread_join`) with the returned id.
    @discardableResult
    public static func start(
        _ what: String, detached: Bool = true, _ body: @escaping @Sendable () -> Void
    ) throws(LabvisorError) -> pthread_t {
        let name = threadName(what)
        let box = Unmanaged.passRetained(Body {
            labvisor_set_thread_name(name)
            body()
        }).toOpaque()
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

    /// `what` as a thread name: at most 15 bytes of UTF-8, cut at a character boundary.
    public static func threadName(_ what: String) -> String {
        var name = ""
        for character in what {
            if name.utf8.count + character.utf8.count > 15 { break }
            name.append(character)
        }
        return name
    }

    /// How a thread of `run`, or a `WorkerThread`, is scheduled.
    public enum Priority: Sendable {
        /// As every other thread.
        case normal
        /// Only when no normal thread wants the CPU (nice 19): for long CPU-bound work, such
        /// as fuzzing, beside work that must answer on time.
        case background
        /// Only on CPU time that no other thread wants (`SCHED_IDLE`): a normal thread that
        /// wakes takes the CPU from it at once, which nice 19 does not promise. For short,
        /// deferrable work beside latency-sensitive threads (the state store's batches).
        /// A busy machine can hold such work back for long: use it only where the caller
        /// can fall back to `.normal` when it falls behind.
        case idle
    }

    /// `SCHED_IDLE` of `<sched.h>` (Linux), which Glibc's module map leaves out.
    private static let schedIdle: Int32 = 5

    /// Puts the calling thread under `priority`.
    static func apply(_ priority: Priority) {
        switch priority {
        case .normal: break
        // On Linux the nice value is per thread, and `who` 0 is the calling thread.
        case .background: _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 19)
        case .idle:
            // `pid` 0 is the calling thread. A thread cannot leave SCHED_IDLE without privilege,
            // so it must be a thread that ends with its work.
            var parameters = sched_param()
            _ = sched_setscheduler(0, schedIdle, &parameters)
        }
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
                    apply(priority)
                    continuation.resume(with: Result { try body() })
                }
            } catch {
                continuation.resume(throwing: error)
            }
        }
    }
}
