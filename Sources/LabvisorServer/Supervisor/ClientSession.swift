import Foundation
import LabvisorDriverKit
import LabvisorProtocol

/// What one connected client holds: driver session references (one per instrument it has
/// used) and, through the lease table, its leases. `close()` releases all of it at once,
/// whatever ended the connection.
public final class ClientSession: Sendable {
    /// The client, as leases and events name it.
    public let client: ClientRef
    private let references = LockedState<[String: (instrument: ManagedInstrument, reference: SessionReference)]>([:])
    private let closed = LockedState(false)
    private let subscriptions = LockedState((next: 0, running: [Int: (subscription: EventSubscription, task: Task<Void, Never>)]()))
    /// Sends framed messages (one or more, each with its length prefix: `Framing.appendFrame`)
    /// to the client in one write; waits while the client is not reading, so a slow reader
    /// costs only its own bounded event buffer.
    let send: @Sendable ([UInt8]) async throws -> Void

    /// Where stream frames go (`nil`: this session cannot carry streams).
    let output: (any StreamOutput)?
    private let streams = LockedState<[Int: StreamSubscription]>([:])

    /// Creates the session of a newly connected client; `send` writes framed messages to it.
    public init(client: ClientRef, send: @escaping @Sendable ([UInt8]) async throws -> Void = { _ in }) {
        self.client = client
        self.send = send
        self.output = nil
    }

    /// Creates the session of a client on a wire connection, with its stream output.
    init(client: ClientRef, send: @escaping @Sendable ([UInt8]) async throws -> Void, output: any StreamOutput) {
        self.client = client
        self.send = send
        self.output = output
    }

    /// Records a new stream subscription unless `limit` are held.
    ///
    /// - Throws: `resourceExhausted` naming the limit; `closed` after `close()`.
    func addStream(_ subscription: StreamSubscription, limit: Int) throws(LabvisorError) {
        let refused: LabvisorError? = streams.withLock { streams in
            if closed.withLock({ $0 }) { return LabvisorError.closed("the connection of \(client)") }
            guard streams.count < limit else { return LabvisorError.resourceExhausted("streams per client", value: limit) }
            streams[subscription.id] = subscription
            return nil
        }
        if let refused { throw refused }
    }

    /// Forgets stream subscription `id`; returns it.
    @discardableResult
    func removeStream(_ id: Int) -> StreamSubscription? {
        streams.withLock { $0.removeValue(forKey: id) }
    }

    /// Starts forwarding `subscription`'s events as `event` notifications; returns its id.
    func forward(_ subscription: EventSubscription) -> Int {
        let id = subscriptions.withLock { state in
            state.next += 1
            return state.next
        }
        let send = self.send
        let task = Task {
            // Woken by one event, the task takes what else is buffered and writes the batch at
            // once: one socket write and one wake-up per batch, not per event.
            var iterator = subscription.makeAsyncIterator()
            var batch: [UInt8] = []
            func append(_ event: Event) {
                Framing.appendFrame(to: &batch) { EventNotification.write(subscription: id, event: event, into: &$0) }
            }
            while let first = await iterator.next() {
                batch.removeAll(keepingCapacity: true)
                append(first)
                for event in subscription.takeBuffered(limit: Self.eventBatch - 1) { append(event) }
                do { try await send(batch) } catch { break }
            }
        }
        let keep = subscriptions.withLock { state -> Bool in
            if closed.withLock({ $0 }) { return false }
            state.running[id] = (subscription, task)
            return true
        }
        if !keep {
            subscription.cancel()
            task.cancel()
        }
        return id
    }

    /// The most events written to a client in one batch.
    static let eventBatch = 256

    /// Stops forwarding subscription `id`.
    ///
    /// - Throws: `notFound` when this connection has no such subscription.
    func stopForwarding(_ id: Int) throws(LabvisorError) {
        guard let running = subscriptions.withLock({ $0.running.removeValue(forKey: id) }) else {
            throw LabvisorError.notFound("subscription", String(id))
        }
        running.subscription.cancel()
        running.task.cancel()
    }

    /// Whether the connection has ended.
    public var isClosed: Bool { closed.withLock { $0 } }

    /// The instrument's running driver, opening a session reference on first use. Waits
    /// while the driver is being (re)opened, e.g. just after its device came back.
    ///
    /// - Throws: `closed` after `close()`; what opening the driver throws; `deviceGone`
    ///   while the device is away.
    func hosted(_ instrument: ManagedInstrument) async throws -> any HostedInstrument {
        if let held = references.withLock({ $0[instrument.name] }) {
            if held.instrument === instrument { return try await instrument.session.resource(for: held.reference) }
            // A reference to an instrument of the same name that was removed since.
            references.withLock { references in
                if references[instrument.name]?.instrument === held.instrument { references[instrument.name] = nil }
            }
        }
        let reference = try await instrument.session.open(by: client.name)
        let kept = references.withLock { references -> Bool in
            if closed.withLock({ $0 }) || references[instrument.name] != nil { return false }
            references[instrument.name] = (instrument, reference)
            return true
        }
        if !kept {
            // Closed meanwhile, or another call of this client opened one first.
            try? instrument.session.close(reference)
            guard let existing = references.withLock({ $0[instrument.name] }), existing.instrument === instrument else {
                throw LabvisorError.closed("the connection of \(client)")
            }
            return try await instrument.session.resource(for: existing.reference)
        }
        return try await instrument.session.resource(for: reference)
    }

    /// Releases everything: leases, then session references (the last one of an instrument
    /// shuts its driver down after the linger). Idempotent.
    func close(in supervisor: Supervisor) {
        let first = closed.withLock { closed in
            defer { closed = true }
            return !closed
        }
        guard first else { return }
        _ = supervisor.leases.releaseAll(heldBy: client, reason: .clientDisconnected)
        let running = subscriptions.withLock { state in
            defer { state.running = [:] }
            return Array(state.running.values)
        }
        for (subscription, task) in running {
            subscription.cancel()
            task.cancel()
        }
        let streams = streams.withLock { streams in
            defer { streams = [:] }
            return Array(streams.values)
        }
        for stream in streams { stream.end(.disconnected) }
        let held = references.withLock { references in
            defer { references = [:] }
            return references
        }
        for (instrument, reference) in held.values {
            try? instrument.session.close(reference)
        }
    }
}
