import NIOCore

/// A task executor that runs jobs on one NIO event loop: a task that prefers it runs on the
/// thread that reads and writes its connection's socket.
///
/// A call from a task on the global executor costs the client three thread wake-ups: the
/// event loop's, to write the request; the event loop's again, when the response arrives;
/// then a global executor thread's, to resume the caller. With this executor preferred, the
/// request is written from the loop's own thread and the response resumes the caller there,
/// so only the arrival of the response wakes a thread (measured in `labvisor-bench wire.echo`
/// as `client_switches_per_call`).
final class EventLoopTaskExecutor: TaskExecutor {
    /// The loop the jobs run on.
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        // From the loop's own thread `execute` only queues the job: no wake-up.
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
