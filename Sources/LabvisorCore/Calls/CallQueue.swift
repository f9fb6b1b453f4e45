import DequeModule

/// The per-instrument call queue: calls run one at a time in arrival order, so a driver is
/// never re-entered.
///
/// - Each call may have a timeout covering its wait in the queue and its run; past it the
///   call is cancelled in the driver and the caller gets `deadlineExceeded`.
/// - `immediate` calls (stop, abort) jump ahead of every queued call and interrupt the call
///   in progress; that call's caller gets `unavailable` naming the immediate call. The
///   immediate call starts once the interrupted one has ended.
/// - Oneway calls return a call id at once; their outcome is published as a
///   `callCompleted` or `callFailed` event.
/// - The queue is bounded: past `capacity` waiting calls, `resourceExhausted`.
/// - `close(with:)` fails every waiting call and every later one with the given error
///   (`deviceGone` on unplug) and interrupts the running one.
public final class CallQueue: Sendable {
    /// Counters and the call in progress.
    public struct Statistics: Sendable, Hashable {
        /// The method running now, if any.
        public var running: String?
        /// Calls waiting for their turn.
        public var queued: Int
        /// Calls that have ended, whatever their outcome.
        public var finished: Int
        /// Oneway calls not yet finished.
        public var onewayInFlight: Int
    }

    private struct Waiting {
        let id: UInt64
        let method: String
        let immediate: Bool
        let interruption: Interruption
        var continuation: WaitContinuation<Void, any Error>?
    }

    private struct Running {
        let id: UInt64
        let method: String
        let immediate: Bool
        let interruption: Interruption
    }

    private struct Storage {
        var running: Running?
        var queue: Deque<Waiting> = []
        /// Calls handed the turn before they started waiting for it.
        var grantedEarly: Set<UInt64> = []
        var closedBy: LabvisorError?
        var nextID: UInt64 = 1
        var finished = 0
        var oneway: [UInt64: Task<Void, Never>] = [:]
    }

    /// A place in the queue, taken synchronously.
    private struct Ticket {
        let id: UInt64
        let interruption: Interruption
        let mustWait: Bool
    }

    /// The instrument whose calls this queue orders.
    public let instrument: String
    /// The most calls that may wait (not counting the one running).
    public let capacity: Int
    private let events: (any EventSink)?
    private let storage = LockedState(Storage())

    /// Creates a queue for `instrument`, publishing oneway outcomes to `events`.
    public init(instrument: String, capacity: Int = 64, events: (any EventSink)? = nil) {
        self.instrument = instrument
        self.capacity = capacity
        self.events = events
    }

    /// Runs `body` as call `method` when its turn comes and returns its result.
    public func perform<Value: Sendable>(
        _ method: String, timeout: Duration? = nil, immediate: Bool = false,
        _ body: @escaping @Sendable () async throws -> Value
    ) async throws -> Value {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        let ticket = try enqueue(method, immediate: immediate)
        return try await execute(ticket, method: method, timeout: timeout, deadline: deadline, body)
    }

    /// Queues `body` as a oneway call and returns its call id at once. Its outcome is
    /// published as a `callCompleted` event (with `result`) or a `callFailed` event (with
    /// `error`: code, message, fields). Queue limits and a closed queue throw here.
    @discardableResult
    public func performOneway(
        _ method: String, timeout: Duration? = nil, immediate: Bool = false,
        _ body: @escaping @Sendable () async throws -> JSONValue
    ) throws(LabvisorError) -> UInt64 {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        let ticket = try enqueue(method, immediate: immediate)
        storage.withLock { state in
            // Owned by the queue, not by the caller, who has already been answered.
            state.oneway[ticket.id] = Task {
                let event: Event
                do {
                    let result = try await self.execute(
                        ticket, method: method, timeout: timeout, deadline: deadline, body)
                    event = Event(
                        kind: .callCompleted, instrument: self.instrument,
                        fields: ["call": .int(Int(ticket.id)), "method": .string(method), "result": result])
                } catch {
                    let failure = self.labvisorError(error, method: method)
                    event = Event(
                        kind: .callFailed, instrument: self.instrument,
                        fields: [
                            "call": .int(Int(ticket.id)), "method": .string(method),
                            "error": [
                                "code": .string(failure.code.rawValue), "message": .string(failure.message),
                                "fields": .object(failure.fields),
                            ],
                        ])
                }
                self.events?.publish(event)
                _ = self.storage.withLock { $0.oneway.removeValue(forKey: ticket.id) }
            }
        }
        return ticket.id
    }

    /// Fails every waiting call and every later call with `error`, and interrupts the
    /// running call. Used when the device is unplugged (`deviceGone`) or the session closes.
    public func close(with error: LabvisorError) {
        let (waiting, running) = storage.withLock { state -> ([Waiting], Running?) in
            if state.closedBy == nil { state.closedBy = error }
            let waiting = state.queue.array
            state.queue.removeAll()
            return (waiting, state.running)
        }
        for waiter in waiting { waiter.continuation?.resume(throwing: error) }
        running?.interruption.fire(.interrupted(error.message))
    }

    /// Reopens a closed queue (the device came back).
    public func reopen() {
        storage.withLock { $0.closedBy = nil }
    }

    /// Waits until every oneway call has finished.
    public func drainOneway() async {
        while let task = storage.withLock({ $0.oneway.values.first }) {
            await task.value
        }
    }

    /// Counters and the call in progress.
    public var statistics: Statistics {
        storage.withLock {
            Statistics(
                running: $0.running?.method, queued: $0.queue.count, finished: $0.finished,
                onewayInFlight: $0.oneway.count)
        }
    }

    // MARK: - Turns

    private func enqueue(_ method: String, immediate: Bool) throws(LabvisorError) -> Ticket {
        let interruption = Interruption()
        let (ticket, interrupt) = try storage.withLock { state throws(LabvisorError) -> (Ticket, Running?) in
            if let error = state.closedBy { throw error }
            let id = state.nextID
            state.nextID += 1
            guard let running = state.running else {
                state.running = Running(id: id, method: method, immediate: immediate, interruption: interruption)
                return (Ticket(id: id, interruption: interruption, mustWait: false), nil)
            }
            let waiting = Waiting(
                id: id, method: method, immediate: immediate, interruption: interruption, continuation: nil)
            if immediate {
                let position = state.queue.firstIndex { !$0.immediate } ?? state.queue.endIndex
                state.queue.insert(waiting, at: position)
                return (Ticket(id: id, interruption: interruption, mustWait: true), running.immediate ? nil : running)
            }
            guard state.queue.count < capacity else {
                throw LabvisorError.resourceExhausted("call queue of \(instrument)", value: capacity)
            }
            state.queue.append(waiting)
            return (Ticket(id: id, interruption: interruption, mustWait: true), nil)
        }
        interrupt?.interruption.fire(.interrupted("immediate call \(method)"))
        return ticket
    }

    private func execute<Value: Sendable>(
        _ ticket: Ticket, method: String, timeout: Duration?, deadline: ContinuousClock.Instant?,
        _ body: @escaping @Sendable () async throws -> Value
    ) async throws -> Value {
        if ticket.mustWait {
            try await waitForTurn(ticket, method: method, timeout: timeout, deadline: deadline)
        }
        let outcome = await withInterruption(ticket.interruption, deadline: deadline, inline: RequestTask.current, body)
        passTurn()
        switch outcome.signal {
        case .completed:
            return try outcome.result.get()
        case .deadline:
            throw deadlineExceeded(method, timeout: timeout, whileQueued: false)
        case .cancelled:
            throw CancellationError()
        case .interrupted(let why):
            if let closedBy = storage.withLock({ $0.closedBy }) { throw closedBy }
            throw LabvisorError(
                .unavailable, "call \(method) on \(instrument) was interrupted by \(why)",
                fields: ["instrument": .string(instrument), "method": .string(method), "interruptedBy": .string(why)])
        }
    }

    private func waitForTurn(_ ticket: Ticket, method: String, timeout: Duration?, deadline: ContinuousClock.Instant?)
        async throws
    {
        let id = ticket.id
        try await suspend(until: deadline) { (continuation: WaitContinuation<Void, any Error>) in
            let resumeNow: Result<Void, any Error>? = storage.withLock { state in
                if state.grantedEarly.remove(id) != nil { return .success(()) }
                guard let index = state.queue.firstIndex(where: { $0.id == id }) else {
                    return .failure(state.closedBy ?? LabvisorError.closed("call queue of \(instrument)"))
                }
                state.queue[index].continuation = continuation
                return nil
            }
            if let resumeNow { continuation.resume(with: resumeNow) }
        } expire: { end in
            let waiter = self.storage.withLock { state -> Waiting? in
                guard let index = state.queue.firstIndex(where: { $0.id == id }),
                    state.queue[index].continuation != nil
                else { return nil }
                state.finished += 1
                return state.queue.remove(at: index)
            }
            guard let waiter else { return }
            switch end {
            case .cancelled: waiter.continuation?.resume(throwing: CancellationError())
            case .deadline:
                waiter.continuation?.resume(
                    throwing: self.deadlineExceeded(method, timeout: timeout, whileQueued: true))
            }
        }
    }

    /// The running call ended: hand the turn to the first waiting call.
    private func passTurn() {
        let next = storage.withLock { state -> Waiting? in
            state.finished += 1
            guard !state.queue.isEmpty else {
                state.running = nil
                return nil
            }
            let next = state.queue.removeFirst()
            state.running = Running(
                id: next.id, method: next.method, immediate: next.immediate, interruption: next.interruption)
            if next.continuation == nil { state.grantedEarly.insert(next.id) }
            return next
        }
        next?.continuation?.resume()
    }

    private func deadlineExceeded(_ method: String, timeout: Duration?, whileQueued: Bool) -> LabvisorError {
        let limit = timeout.map { "\($0)" } ?? "its deadline"
        let place = whileQueued ? " while waiting in the queue" : ""
        return LabvisorError(
            .deadlineExceeded, "call \(method) on \(instrument) ran past \(limit)\(place)",
            fields: [
                "instrument": .string(instrument), "method": .string(method),
                "timeoutSeconds": timeout.map { .double($0.seconds) } ?? .null,
                "queued": .bool(whileQueued),
            ])
    }

    private func labvisorError(_ error: any Error, method: String) -> LabvisorError {
        if let error = error as? LabvisorError { return error }
        if error is CancellationError { return .cancelled("call \(method) on \(instrument)") }
        return LabvisorError(
            .driverFault, "call \(method) on \(instrument) failed: \(error)",
            fields: ["instrument": .string(instrument), "method": .string(method)])
    }
}
