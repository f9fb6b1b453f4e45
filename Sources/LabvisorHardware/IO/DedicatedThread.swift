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

    /// How the thread that runs the body of `run` or `joined` is scheduled.
    ///
    /// A lowered priority must end with the work. A thread is born with its creator's policy
    /// and nice value, and on Linux the Swift task pool is libdispatch's, which starts a pool
    /// thread from whichever thread enqueues work when the pool is short of one: resuming a
    /// continuation can be that. A pool thread born of a lowered thread runs every task at
    /// that priority for the rest of its life (seen: a `SCHED_IDLE` store writer made a pool
    /// thread `SCHED_IDLE`, and a busy CI machine held a simulator's replies back for over
    /// 2 s). So the body of a lowered thread runs alone on it, and a normal thread that
    /// joins it resumes the caller (`joined`).
    public enum Priority: Sendable {
        /// As every other thread.
        case normal
        /// Only when no normal thread wants the CPU (nice 19): for long CPU-bound work, such
        /// as fuzzing, beside work that must answer on time.
        case background
    }

    /// Puts the calling thread under `priority`.
    private static func apply(_ priority: Priority) {
        switch priority {
        case .normal: break
        // On Linux the nice value is per thread, and `who` 0 is the calling thread.
        case .background: _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 19)
        }
    }

    /// `body`'s result, computed on a new thread under `priority` that has ended when this
    /// returns: the calling thread keeps its own priority, and only it goes on to resume or
    /// start anything. Blocks the calling thread, so call it from a thread of its own.
    ///
    /// - Returns: what `body` returned or threw; `resourceExhausted` when no thread can be
    ///   started.
    public static func joined<Value: Sendable>(
        _ priority: Priority, _ body: @escaping @Sendable () throws -> Value
    ) -> Result<Value, any Error> {
        let outcome = LockedState<Result<Value, any Error>?>(nil)
        do {
            let thread = try start("blocking work", detached: false) {
                apply(priority)
                let result = Result { try body() }
                outcome.withLock { $0 = result }
            }
            pthread_join(thread, nil)
        } catch {
            return .failure(error)
        }
        return outcome.withLock { $0 } ?? .failure(LabvisorError(.unavailable, "the blocking work thread ended without a result"))
    }

    /// `body`'s result, computed on a new (detached) thread while the caller's task is
    /// suspended; under a lowered `priority`, on a thread of its own joined by the one that
    /// resumes the caller (see `Priority`).
    ///
    /// - Throws: what `body` throws; `resourceExhausted` when no thread can be started.
    public static func run<Value: Sendable>(
        _ priority: Priority = .normal, _ body: @escaping @Sendable () throws -> Value
    ) async throws -> Value {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Value, any Error>) in
            do {
                try start("blocking work") {
                    continuation.resume(with: priority == .normal ? Result { try body() } : joined(priority, body))
                }
            } catch {
                continuation.resume(throwing: error)
            }
        }
    }
}
