import CLinuxIO
import Glibc
import LabvisorCore

/// What a task waits for on a descriptor.
public enum IOInterest: Sendable, Hashable, CustomStringConvertible {
    /// Input is available (or the descriptor hung up).
    case readable
    /// Output space is available.
    case writable

    public var description: String {
        switch self {
        case .readable: "readable"
        case .writable: "writable"
        }
    }
}

/// One descriptor registered with an `IOReactor`: the place where tasks wait until it is
/// readable or writable.
///
/// Readiness is edge-triggered and counted: each event from epoll bumps a counter per
/// interest, and `perform(_:deadline:_:)` reads the counter before it tries the system
/// call, so an event that arrives between "would block" and "wait" is never lost.
///
/// Once the descriptor hangs up (EPOLLHUP, EPOLLERR, or `markGone(_:)` after a read of 0 or
/// EIO) the registration has ended: pending and later waits fail with `deviceGone` at once.
public final class IORegistration: Sendable {
    /// The registered descriptor (owned by the caller).
    public let fd: Int32
    /// What the descriptor is, for messages: a device node.
    public let name: String

    let id: UInt64
    private let reactor: IOReactor

    private struct Waiter: Sendable {
        let key: UInt64
        let interest: IOInterest
        let continuation: WaitContinuation<Void, any Error>
    }

    private struct State: Sendable {
        var readableEvents: UInt64 = 0
        var writableEvents: UInt64 = 0
        var ended: LabvisorError?
        /// Whether epoll reports output readiness now (armed by the first writer to wait,
        /// disarmed by an output event that finds no writer waiting).
        var writableArmed = false
        /// Usually none or one (a reader), so an array: no hashing, no allocation per wait
        /// once it has grown.
        var waiters: [Waiter] = []
        var nextWaiter: UInt64 = 0

        func events(_ interest: IOInterest) -> UInt64 {
            interest == .readable ? readableEvents : writableEvents
        }

        mutating func removeWaiter(_ key: UInt64) -> Waiter? {
            guard let index = waiters.firstIndex(where: { $0.key == key }) else { return nil }
            return waiters.remove(at: index)
        }
    }

    private let state = LockedState(State())

    init(id: UInt64, fd: Int32, name: String, reactor: IOReactor) {
        self.id = id
        self.fd = fd
        self.name = name
        self.reactor = reactor
    }

    /// The epoll events of a registration: edge-triggered input and hang-up, and output
    /// while `writable`.
    static func events(writable: Bool) -> UInt32 {
        EPOLLIN.rawValue | EPOLLRDHUP.rawValue | EPOLLET.rawValue | (writable ? EPOLLOUT.rawValue : 0)
    }

    /// The error that ended this registration (hang-up, deregistration, reactor shutdown),
    /// or `nil` while it is live.
    public var endError: LabvisorError? { state.withLock { $0.ended } }

    /// Runs `attempt` (one non-blocking system call) until it returns a value, waiting for
    /// `interest` between attempts; `attempt` returns `nil` for "would block".
    ///
    /// - Throws: `deviceGone` when the descriptor hangs up, `timeout` at `deadline`,
    ///   `unavailable` (with `cancelled: true`) when the task is cancelled, whatever
    ///   `attempt` throws, and the error given to `deregister(ending:)`.
    public func perform<Value>(
        _ interest: IOInterest, deadline: ContinuousClock.Instant?, _ attempt: () throws -> Value?
    ) async throws -> Value {
        while true {
            // The waiter's key comes with the event count, in one lock: most attempts succeed
            // or wait once, and an unused key costs nothing.
            let (seen, key) = try state.withLock { (state) throws(LabvisorError) -> (UInt64, UInt64) in
                if let ended = state.ended { throw ended }
                state.nextWaiter &+= 1
                return (state.events(interest), state.nextWaiter)
            }
            if let value = try attempt() { return value }
            try await wait(for: interest, after: seen, key: key, deadline: deadline)
        }
    }

    /// Waits until the descriptor is `interest` (at once when it already is).
    ///
    /// - Throws: as `perform(_:deadline:_:)`.
    public func waitUntil(_ interest: IOInterest, deadline: ContinuousClock.Instant?) async throws {
        let _: Bool = try await perform(interest, deadline: deadline) {
            var entry = pollfd(fd: fd, events: Int16(interest == .readable ? POLLIN : POLLOUT), revents: 0)
            return poll(&entry, 1, 0) > 0 ? true : nil
        }
    }

    /// Ends the registration with `deviceGone`: the caller saw the hang-up itself (a read
    /// returned 0 or failed with EIO). Pending and later waits fail at once.
    public func markGone(_ reason: String) {
        end(with: deviceGone(reason))
        reactor.remove(self)
    }

    /// Removes the descriptor from the reactor and fails pending and later waits with
    /// `error`. Call it before closing the descriptor. Idempotent: the first error stays.
    public func deregister(ending error: LabvisorError) {
        reactor.remove(self)
        end(with: error)
    }

    /// The error for a hang-up of this descriptor.
    public func deviceGone(_ reason: String) -> LabvisorError {
        LabvisorError(
            .deviceGone, "\(name) is gone: \(reason)",
            fields: ["node": .string(name), "reason": .string(reason)])
    }

    // MARK: - Called by the reactor

    /// Handles one epoll event (on the reactor thread).
    func deliver(_ events: UInt32) {
        if events & (EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 {
            markGone("hung up (unplugged, or closed by the other side)")
            return
        }
        let readable = events & (EPOLLIN.rawValue | EPOLLRDHUP.rawValue) != 0
        let writable = events & EPOLLOUT.rawValue != 0
        // The first woken waiter is returned on its own, so the usual case (one reader)
        // allocates nothing.
        let (first, more) = state.withLock {
            state -> (WaitContinuation<Void, any Error>?, [WaitContinuation<Void, any Error>]) in
            if readable { state.readableEvents &+= 1 }
            if writable {
                state.writableEvents &+= 1
                if state.writableArmed && !state.waiters.contains(where: { $0.interest == .writable }) {
                    // Nobody waits to write: stop the wake-ups. Under the lock, so a writer
                    // that arms it again cannot be overtaken by this change.
                    state.writableArmed = false
                    reactor.modify(self, events: Self.events(writable: false))
                }
            }
            guard !state.waiters.isEmpty else { return (nil, []) }
            var first: WaitContinuation<Void, any Error>?
            var more: [WaitContinuation<Void, any Error>] = []
            state.waiters.removeAll { waiter in
                guard waiter.interest == .readable ? readable : writable else { return false }
                if first == nil { first = waiter.continuation } else { more.append(waiter.continuation) }
                return true
            }
            return (first, more)
        }
        first?.resume()
        for continuation in more { continuation.resume() }
    }

    /// Fails pending and later waits with `error` (the first error stays).
    func end(with error: LabvisorError) {
        let waiters = state.withLock { state -> [Waiter] in
            if state.ended == nil { state.ended = error }
            defer { state.waiters = [] }
            return state.waiters
        }
        let ended = endError ?? error
        for waiter in waiters { waiter.continuation.resume(throwing: ended) }
    }

    // MARK: - Waiting

    private func wait(
        for interest: IOInterest, after seen: UInt64, key: UInt64, deadline: ContinuousClock.Instant?
    ) async throws {
        let name = name
        try await suspend(
            until: deadline,
            register: { (continuation: WaitContinuation<Void, any Error>) in
                state.withLock { state in
                    if let ended = state.ended {
                        continuation.resume(throwing: ended)
                    } else if state.events(interest) != seen {
                        continuation.resume()
                    } else {
                        state.waiters.append(Waiter(key: key, interest: interest, continuation: continuation))
                        if interest == .writable && !state.writableArmed {
                            // epoll checks readiness again on a change, so a port that is
                            // writable by now reports it at once.
                            state.writableArmed = true
                            reactor.modify(self, events: Self.events(writable: true))
                        }
                    }
                }
            },
            expire: { [state] end in
                guard let waiter = state.withLock({ $0.removeWaiter(key) }) else { return }
                switch end {
                case .deadline:
                    waiter.continuation.resume(throwing: LabvisorError(
                        .timeout, "\(name) did not become \(interest) before the deadline",
                        fields: ["node": .string(name), "waitingFor": .string(interest.description)]))
                case .cancelled:
                    waiter.continuation.resume(throwing: LabvisorError.cancelled("waiting for \(name) to become \(interest)"))
                }
            })
    }
}
