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
/// Two savings on the round-trip path (see `docs/serial.md`):
/// - A read that found the descriptor empty (EAGAIN, or fewer bytes than asked) notes the
///   input event count it saw before the read. While no input event has come since, the
///   next read waits at once instead of trying a read that would only say EAGAIN: every
///   byte that arrives later brings an edge-triggered event, which bumps the count.
/// - Deadlines of waits share one `DeadlineScheduler` entry per registration, armed at the
///   earliest deadline of its waiters and re-armed when it fires early. A wait whose
///   deadline is not earlier than the armed entry arms nothing, so a stream of requests
///   with the same timeout schedules about one entry per timeout period, not one per wait.
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
        let deadline: ContinuousClock.Instant?
        let continuation: WaitContinuation<Void, any Error>
    }

    /// The `DeadlineScheduler` entry that expires this registration's waits.
    private struct DeadlineTimer: Sendable {
        let token: DeadlineScheduler.Token
        let at: ContinuousClock.Instant
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
        /// The input event count seen before a read that found the descriptor empty; while
        /// the count is still this, a read would find nothing.
        var drainedAt: UInt64?
        /// Armed at or before the earliest deadline of the waiters (see the type's notes).
        var timer: DeadlineTimer?

        func events(_ interest: IOInterest) -> UInt64 {
            interest == .readable ? readableEvents : writableEvents
        }

        /// Whether a read would find nothing for sure (see `drainedAt`).
        func knownEmpty(_ interest: IOInterest) -> Bool {
            interest == .readable && drainedAt == readableEvents
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
    ///
    /// - Parameter drained: for `.readable`, whether a value shows that the attempt emptied
    ///   the descriptor (a read that returned fewer bytes than it asked for). The next
    ///   `perform` then waits for the next input event before it tries again. By default no
    ///   value does (attempts that may leave input behind). A `nil` from `attempt` (would
    ///   block) always counts as empty.
    public func perform<Value>(
        _ interest: IOInterest, deadline: ContinuousClock.Instant?, drained: (Value) -> Bool = { _ in false },
        _ attempt: () throws -> Value?
    ) async throws -> Value {
        while true {
            // The waiter's key comes with the event count, in one lock: most attempts succeed
            // or wait once, and an unused key costs nothing.
            let (seen, key, empty) = try state.withLock { (state) throws(LabvisorError) -> (UInt64, UInt64, Bool) in
                if let ended = state.ended { throw ended }
                state.nextWaiter &+= 1
                return (state.events(interest), state.nextWaiter, state.knownEmpty(interest))
            }
            if !empty, let value = try attempt() {
                if interest == .readable && drained(value) {
                    state.withLock { $0.drainedAt = seen }
                }
                return value
            }
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
            if let timer = state.timer {
                DeadlineScheduler.shared.cancel(timer.token)
                state.timer = nil
            }
            defer { state.waiters = [] }
            return state.waiters
        }
        let ended = endError ?? error
        for waiter in waiters { waiter.continuation.resume(throwing: ended) }
    }

    // MARK: - Waiting

    /// Waits for an event of `interest` after the count `seen` (read before an attempt that
    /// would have blocked, or was skipped because the descriptor is known empty).
    private func wait(
        for interest: IOInterest, after seen: UInt64, key: UInt64, deadline: ContinuousClock.Instant?
    ) async throws {
        let name = name
        // The deadline is this registration's timer's job (see the type's notes), so the wait
        // itself only has the cancellation path.
        try await suspend(
            until: nil,
            register: { (continuation: WaitContinuation<Void, any Error>) in
                state.withLock { state in
                    if interest == .readable { state.drainedAt = seen }
                    if let ended = state.ended {
                        continuation.resume(throwing: ended)
                    } else if state.events(interest) != seen {
                        continuation.resume()
                    } else if let deadline, deadline <= .now {
                        continuation.resume(throwing: timeoutError(interest))
                    } else {
                        state.waiters.append(Waiter(key: key, interest: interest, deadline: deadline, continuation: continuation))
                        if interest == .writable && !state.writableArmed {
                            // epoll checks readiness again on a change, so a port that is
                            // writable by now reports it at once.
                            state.writableArmed = true
                            reactor.modify(self, events: Self.events(writable: true))
                        }
                        if let deadline, state.timer.map({ deadline < $0.at }) ?? true {
                            arm(&state, at: deadline)
                        }
                    }
                }
            },
            expire: { [state] _ in
                // Only cancellation: `suspend` has no deadline here.
                guard let waiter = state.withLock({ $0.removeWaiter(key) }) else { return }
                waiter.continuation.resume(throwing: LabvisorError.cancelled("waiting for \(name) to become \(interest)"))
            })
    }

    /// Arms the timer at `deadline`, replacing a later one (under the lock).
    private func arm(_ state: inout State, at deadline: ContinuousClock.Instant) {
        if let old = state.timer { DeadlineScheduler.shared.cancel(old.token) }
        // Weak: a registration that is gone has no waiters to expire.
        let token = DeadlineScheduler.shared.schedule(at: deadline) { [weak self] in self?.expireDue() }
        state.timer = DeadlineTimer(token: token, at: deadline)
    }

    /// The timer fired: ends the waits whose deadline has passed with `timeout`, and arms the
    /// timer again for the earliest deadline left.
    private func expireDue() {
        let now = ContinuousClock.now
        let expired = state.withLock { state -> [Waiter] in
            state.timer = nil
            var expired: [Waiter] = []
            state.waiters.removeAll { waiter in
                guard let deadline = waiter.deadline, deadline <= now else { return false }
                expired.append(waiter)
                return true
            }
            if let next = state.waiters.compactMap(\.deadline).min() { arm(&state, at: next) }
            return expired
        }
        for waiter in expired { waiter.continuation.resume(throwing: timeoutError(waiter.interest)) }
    }

    private func timeoutError(_ interest: IOInterest) -> LabvisorError {
        LabvisorError(
            .timeout, "\(name) did not become \(interest) before the deadline",
            fields: ["node": .string(name), "waitingFor": .string(interest.description)])
    }
}
