import CLinuxIO
import Glibc
import LabvisorCore

/// The event loop for file descriptors: one background thread blocked in `epoll_wait` for
/// every registered descriptor, so a hundred serial ports cost one thread, not a hundred,
/// and nothing polls.
///
/// Descriptors are registered edge-triggered for input, output, hang-up and error. An event
/// resumes the tasks waiting in `IORegistration.perform(_:deadline:_:)`; a hang-up or error
/// ends the registration with `deviceGone`, failing its pending and later waits at once.
///
/// The thread starts with the first registration and stops in `shutdown()`, which ends every
/// registration with `unavailable`. A reactor that was shut down starts again on the next
/// registration. The thread holds a reference to the reactor while it runs, so a running
/// reactor lives until it is shut down.
public final class IOReactor: Sendable {
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
    }

    /// `data.u64` of the eventfd's epoll entry; registrations count from 1.
    private static let wakeID: UInt64 = 0

    private let state = LockedState(State())

    /// Creates a reactor. Its thread starts with the first registration.
    public init(name: String = "labvisor.io") {
        self.name = name
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
            event.events = EPOLLIN.rawValue | EPOLLOUT.rawValue | EPOLLRDHUP.rawValue | EPOLLET.rawValue
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
        let context = Unmanaged.passRetained(LoopContext(reactor: self, epoll: epoll))
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { raw in
            guard let raw else { return nil }
            let context = Unmanaged<LoopContext>.fromOpaque(raw).takeRetainedValue()
            context.reactor.run(epoll: context.epoll)
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
        init(reactor: IOReactor, epoll: Int32) {
            self.reactor = reactor
            self.epoll = epoll
        }
    }

    /// The loop: waits for events and hands them to their registrations until the eventfd
    /// fires (it is written only by `shutdown`).
    private func run(epoll: Int32) {
        setThreadName()
        let capacity: Int32 = 64
        let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: Int(capacity))
        defer { events.deallocate() }
        while true {
            let count = epoll_wait(epoll, events, capacity, -1)
            if count < 0 {
                if errno == EINTR { continue }
                return
            }
            for index in 0..<Int(count) {
                let id = events[index].data.u64
                if id == Self.wakeID { return }
                let registration = state.withLock { $0.registrations[id] }
                registration?.deliver(events[index].events)
            }
        }
    }

    private func setThreadName() {
        // Linux limits thread names to 15 bytes.
        labvisor_set_thread_name(String(decoding: name.utf8.prefix(15), as: UTF8.self))
    }

    static func systemError(_ what: String, errno code: Int32) -> LabvisorError {
        LabvisorError(
            .unavailable, "\(what): \(String(cString: strerror(code)))",
            fields: ["errno": .int(Int(code))])
    }
}
