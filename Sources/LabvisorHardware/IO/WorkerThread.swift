import Dispatch
import DequeModule
import LabvisorCore

/// One thread of its own that runs submitted blocking work in order until finished: for a
/// stream of short jobs (the state store's batches) without starting a thread per job as
/// `DedicatedThread.run` does.
///
/// Always at normal priority: its thread resumes the callers, and a thread of the Swift pool
/// it may start then would inherit a lowered priority for good (see
/// `DedicatedThread.Priority`).
///
/// The thread waits for work without a timeout; `finish()` (or the last reference going) is
/// its way out: the work already submitted runs, then the thread ends.
public final class WorkerThread: Sendable {
    /// The jobs and the thread's wake-ups, shared with the thread (which must not keep the
    /// `WorkerThread` itself alive, or it could never be released and finished).
    private final class Jobs: Sendable {
        typealias Job = @Sendable () -> Void
        private struct State {
            var waiting: Deque<Job> = []
            var finished = false
        }
        // `LockedState`, not `Synchronization.Mutex`: ThreadSanitizer sees its pthread mutex.
        private let state = LockedState(State())
        /// One signal per job submitted and one for `finish()`.
        private let wake = DispatchSemaphore(value: 0)

        /// Queues `job`; false once finished.
        func submit(_ job: @escaping Job) -> Bool {
            let accepted = state.withLock { state in
                guard !state.finished else { return false }
                state.waiting.append(job)
                return true
            }
            if accepted { wake.signal() }
            return accepted
        }

        func finish() {
            let first = state.withLock { state in
                defer { state.finished = true }
                return !state.finished
            }
            if first { wake.signal() }
        }

        /// The thread's loop: each job in order, until finished and drained.
        func runUntilFinished() {
            while true {
                wake.wait()
                guard let job = state.withLock({ $0.waiting.popFirst() }) else { return }
                job()
            }
        }
    }

    private let jobs = Jobs()
    private let what: String

    /// Starts the thread; `what` names it and its errors.
    ///
    /// - Throws: `resourceExhausted` when no thread can be started.
    public init(_ what: String) throws(LabvisorError) {
        self.what = what
        let jobs = self.jobs
        try DedicatedThread.start(what) { jobs.runUntilFinished() }
    }

    deinit { jobs.finish() }

    /// `body`'s result, computed on the thread after the work submitted before it, while the
    /// caller's task is suspended.
    ///
    /// - Throws: what `body` throws; `unavailable` after `finish()`.
    public func run<Value: Sendable>(_ body: @escaping @Sendable () throws -> Value) async throws -> Value {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Value, any Error>) in
            let accepted = jobs.submit { continuation.resume(with: Result { try body() }) }
            if !accepted {
                continuation.resume(throwing: LabvisorError(.unavailable, "the \(what) thread has finished"))
            }
        }
    }

    /// Ends the thread once the work submitted so far has run; later `run` calls fail.
    public func finish() { jobs.finish() }
}
