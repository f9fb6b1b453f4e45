import CLinuxIO
import Glibc
import LabvisorCore

/// The event loop for file descriptors: one background thread blocked in `epoll_wait` for
/// every registered descriptor, so a hundred serial ports cost one thread, not a hundred,
/// and nothing polls.
///
/// Descriptors are registered edge-triggered for input, hang-up and error, and for output
/// only while a task waits to write (otherwise every byte the device reads would wake the
/// loop for nothing). An event
/// resumes the tasks waiting in `IORegistration.perform(_:deadline:_:)`; a hang-up or error
/// ends the registration with `deviceGone`, failing its pending and later waits at once.
///
/// The reactor is also a `TaskExecutor`: a task that runs under
/// `withTaskExecutorPreference(reactor)` is resumed on the reactor thread itself when its
/// descriptor becomes ready, saving the hop to the global executor's threads
/// (`SerialPort.withReactorAffinity(_:)` does this for a port's reactor). Such code must not
/// block: it runs between `epoll_wait` calls.
///
/// The thread starts with the first registration (or job) and stops in `shutdown()`, which
/// ends every registration with `unavailable`. A reactor that was shut down starts again on
/// the next registration or job. The thread holds a reference to the reactor while it runs,
/// so a running reactor lives until it is shut down.
public final class IOReactor: TaskExecutor, Sendable {
    /// The reactor every serial port uses unless told otherwise; started lazily.
    public static let shared = IOReactor(name: "labvisor.io")

    /// The reactor's name, for its thread and its messages.
    public let name: String

    /// The descriptors of one run of the loop thread.
    private struct Loop: Sendable {
        let epoll: Int32
        let wake: Int32
        let thread: pthread_t
    }

    private struct State: Sendable {
        var loop: Loop?
        var registrations: [UInt64: IORegistration] = [:]
        var nextID: UInt64 = 1
        /// Jobs of tasks that prefer this reactor as their executor.
        var jobs: [UnownedJob] = []
    }

    /// `data.u64` of the eventfd's epoll entry (written by `shutdown` and by `enqueue`);
    /// registrations count from 1.
    private static let wakeID: UInt64 = 0

    private let state = LockedState(State())

    /// Creates a reactor. Its thread starts with the first registration.
    public init(name: String = "labvisor.io") {
        self.name = name
    }

    /// Runs `job` on the reactor thread (the `TaskExecutor` requirement), starting the
    /// thread if needed.
    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        state.withLock { state in
            let loop: Loop
            if let running = state.loop {
                loop = running
            } else {
                do {
                    loop = try startLoop()
                } catch {
                    // Dropping the job would hang its task forever.
                    fatalError("IOReactor '\(name)' cannot run a job: \(error)")
                }
                state.loop = loop
            }
            state.jobs.append(job)
            // The loop runs queued jobs before it sleeps again, so a job enqueued on its own
            // thread (a port became ready) needs no wake-up.
            if state.jobs.count == 1 && pthread_equal(pthread_self(), loop.thread) == 0 {
                // Under the lock, so `shutdown` cannot close the eventfd meanwhile.
                var one: UInt64 = 1
                _ = Glibc.write(loop.wake, &one, MemoryLayout<UInt64>.size)
            }
        }
    }

    /// Whether the loop thread is running.
    public var isRunning: Bool { state.withLock { $0.loop != nil } }

    /// Descriptors registered now.
    public var registrationCount: Int { state.withLock { $0.registrations.count } }

    /// Registers a non-blocking descriptor. The caller keeps owning `fd`: call
    /// `IORegistration.deregister(ending:)` before closing it.
    ///
    /// - Parameters:
    ///   - fd: a descriptor opened with `O_NONBLOCK`.
    ///   - name: what it is (a device node), for error messages.
    /// - Throws: `unavailable` when the loop thread or `epoll_ctl` fails.
    public func register(_ fd: Int32, name: String) throws(LabvisorError) -> IORegistration {
        try state.withLock { (state) throws(LabvisorError) -> IORegistration in
            let loop: Loop
            if let running = state.loop {
                loop = running
            } else {
                loop = try startLoop()
                state.loop = loop
            }
            let id = state.nextID
            state.nextID += 1
            var event = epoll_event()
            event.events = IORegistration.events(writable: false)
            event.data.u64 = id
            guard epoll_ctl(loop.epoll, EPOLL_CTL_ADD, fd, &event) == 0 else {
                throw Self.systemError("cannot watch \(name) for I/O", errno: errno)
            }
            let registration = IORegistration(id: id, fd: fd, name: name, reactor: self)
            state.registrations[id] = registration
            return registration
        }
    }

    /// Stops the loop thread and ends every registration with `unavailable`. Waits until the
    /// thread has exited (unless called on it). Idempotent.
    public func shutdown() {
        let (loop, registrations) = state.withLock { state in
            let taken = (state.loop, Array(state.registrations.values))
            state.loop = nil
            state.registrations = [:]
            return taken
        }
        for registration in registrations {
            registration.end(with: LabvisorError(
                .unavailable, "the I/O reactor '\(name)' was shut down while \(registration.name) was registered",
                fields: ["node": .string(registration.name), "reason": "shutdown"]))
        }
        guard let loop else { return }
        var one: UInt64 = 1
        _ = Glibc.write(loop.wake, &one, MemoryLayout<UInt64>.size)
        if pthread_equal(pthread_self(), loop.thread) != 0 {
            pthread_detach(loop.thread)
        } else {
            pthread_join(loop.thread, nil)
        }
        Glibc.close(loop.epoll)
        Glibc.close(loop.wake)
    }

    /// Removes a registration from epoll and from the table, if it is still there.
    func remove(_ registration: IORegistration) {
        state.withLock { state in
            guard state.registrations.removeValue(forKey: registration.id) != nil, let loop = state.loop else { return }
            // Under the lock, so `shutdown` cannot close the epoll descriptor meanwhile.
            _ = epoll_ctl(loop.epoll, EPOLL_CTL_DEL, registration.fd, nil)
        }
    }

    /// Changes the epoll events of a registration, if it is still registered.
    func modify(_ registration: IORegistration, events: UInt32) {
        state.withLock { state in
            guard state.registrations[registration.id] != nil, let loop = state.loop else { return }
            var event = epoll_event()
            event.events = events
            event.data.u64 = registration.id
            _ = epoll_ctl(loop.epoll, EPOLL_CTL_MOD, registration.fd, &event)
        }
    }

    // MARK: - The loop thread

    private func startLoop() throws(LabvisorError) -> Loop {
        let epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epoll >= 0 else { throw Self.systemError("cannot create an epoll instance", errno: errno) }
        let wake = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        guard wake >= 0 else {
            let code = errno
            Glibc.close(epoll)
            throw Self.systemError("cannot create an eventfd", errno: code)
        }
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.u64 = Self.wakeID
        guard epoll_ctl(epoll, EPOLL_CTL_ADD, wake, &event) == 0 else {
            let code = errno
            Glibc.close(epoll)
            Glibc.close(wake)
            throw Self.systemError("cannot watch the reactor's eventfd", errno: code)
        }
        let context = Unmanaged.passRetained(LoopContext(reactor: self, epoll: epoll, wake: wake))
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { raw in
            guard let raw else { return nil }
            let context = Unmanaged<LoopContext>.fromOpaque(raw).takeRetainedValue()
            context.reactor.run(epoll: context.epoll, wake: context.wake)
            return nil
        }, context.toOpaque())
        guard result == 0 else {
            context.release()
            Glibc.close(epoll)
            Glibc.close(wake)
            throw Self.systemError("cannot start the reactor thread", errno: result)
        }
        return Loop(epoll: epoll, wake: wake, thread: thread)
    }

    /// What the loop thread needs, passed through `pthread_create`'s context pointer.
    private final class LoopContext {
        let reactor: IOReactor
        let epoll: Int32
        let wake: Int32
        init(reactor: IOReactor, epoll: Int32, wake: Int32) {
            self.reactor = reactor
            self.epoll = epoll
            self.wake = wake
        }
    }

    /// The loop: waits for events, hands them to their registrations and runs queued jobs,
    /// until `shutdown` replaces this run's epoll instance (then it runs the jobs left and
    /// exits).
    private func run(epoll: Int32, wake: Int32) {
        setThreadName()
        let capacity: Int32 = 64
        let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: Int(capacity))
        defer { events.deallocate() }
        let executor = asUnownedTaskExecutor()
        // Jobs are swapped out of the state into this array and back, so neither side
        // allocates once both have grown.
        var jobs: [UnownedJob] = []
        var hasJobs = false
        while true {
            let count = epoll_wait(epoll, events, capacity, hasJobs ? 0 : -1)
            if count < 0 && errno != EINTR { return }
            for index in 0..<max(Int(count), 0) {
                let id = events[index].data.u64
                if id == Self.wakeID {
                    var value: UInt64 = 0
                    _ = Glibc.read(wake, &value, MemoryLayout<UInt64>.size)
                    continue
                }
                let registration = state.withLock { $0.registrations[id] }
                registration?.deliver(events[index].events)
            }
            while true {
                let stopped = state.withLock { state in
                    swap(&jobs, &state.jobs)
                    return state.loop?.epoll != epoll
                }
                for job in jobs { job.runSynchronously(on: executor) }
                let ran = !jobs.isEmpty
                jobs.removeAll(keepingCapacity: true)
                if !stopped {
                    // Jobs enqueued by these jobs run after a look at epoll (timeout 0).
                    hasJobs = ran && state.withLock { !$0.jobs.isEmpty }
                    break
                }
                if !ran { return }
            }
        }
    }

    private func setThreadName() {
        labvisor_set_thread_name(DedicatedThread.threadName(name))
    }

    static func systemError(_ what: String, errno code: Int32) -> LabvisorError {
        LabvisorError(
            .unavailable, "\(what): \(String(cString: strerror(code)))",
            fields: ["errno": .int(Int(code))])
    }
}
