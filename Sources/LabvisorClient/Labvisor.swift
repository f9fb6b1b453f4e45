import Foundation

/// The typed client API: what an experiment script calls.
///
/// ```swift
/// let labvisor = try await Labvisor.connect()
/// try await labvisor.withLease(["stage-x"]) { lease in
///     try await labvisor.invoke("stage-x", "home")
///     let position = try await labvisor.get("stage-x", "position")
/// }
/// ```
public final class Labvisor: Sendable {
    /// The connection underneath.
    public let connection: LabvisorConnection

    /// Wraps an open connection.
    public init(connection: LabvisorConnection) {
        self.connection = connection
    }

    /// Connects to the daemon at `endpoint` (default: `LABVISOR_URL`, else the local socket),
    /// on TCP with `credentials` (default: `LABVISOR_TOKEN`, `LABVISOR_CA`, `LABVISOR_CERT`,
    /// `LABVISOR_KEY`).
    public static func connect(to endpoint: Endpoint? = nil, credentials: ClientCredentials? = nil) async throws -> Labvisor {
        Labvisor(connection: try await LabvisorConnection.connect(to: endpoint, credentials: credentials))
    }

    /// The daemon's status.
    public func status() async throws -> DaemonStatus.Result {
        try await connection.call(DaemonStatus.self, Empty())
    }

    /// The instruments, optionally only those matching a requirements query.
    public func list(where query: JSONValue? = nil) async throws -> [InstrumentSummary] {
        try await connection.call(ListInstruments.self, .init(where: query)).instruments
    }

    /// One instrument with its methods and properties.
    public func describe(_ instrument: String) async throws -> DescribeInstrument.Result {
        try await connection.call(DescribeInstrument.self, .init(instrument: instrument))
    }

    /// Calls a method and returns its value.
    ///
    /// - Parameters:
    ///   - timeout: the call's deadline in the daemon (queue wait included).
    ///   - leaseToken: act under a lease this connection did not take.
    @discardableResult
    public func invoke(
        _ instrument: String, _ method: String, _ arguments: [String: JSONValue] = [:], timeout: Duration? = nil,
        leaseToken: String? = nil
    ) async throws -> JSONValue {
        let result = try await connection.call(
            InvokeMethod.self,
            .init(instrument: instrument, method: method, arguments: arguments, timeout: timeout?.seconds, leaseToken: leaseToken),
            timeout: timeout.map { $0 + .seconds(5) })
        return result.value ?? .null
    }

    /// Queues a method and returns its call id; the outcome arrives as an event.
    public func invokeOneway(
        _ instrument: String, _ method: String, _ arguments: [String: JSONValue] = [:], timeout: Duration? = nil,
        leaseToken: String? = nil
    ) async throws -> Int {
        let result = try await connection.call(
            InvokeMethod.self,
            .init(instrument: instrument, method: method, arguments: arguments, timeout: timeout?.seconds, oneway: true, leaseToken: leaseToken))
        return result.call ?? 0
    }

    /// Reads a property.
    public func get(_ instrument: String, _ property: String, timeout: Duration? = nil) async throws -> JSONValue {
        try await connection.call(GetProperty.self, .init(instrument: instrument, property: property, timeout: timeout?.seconds)).value
    }

    /// Writes a property (needs the lease).
    public func set(_ instrument: String, _ property: String, _ value: JSONValue, timeout: Duration? = nil, leaseToken: String? = nil) async throws {
        _ = try await connection.call(
            SetProperty.self, .init(instrument: instrument, property: property, value: value, timeout: timeout?.seconds, leaseToken: leaseToken))
    }

    /// Takes a lease on the named instruments, waiting up to `timeout` (zero: fail at once
    /// with `locked`).
    public func acquire(_ instruments: [String], timeout: Duration = .zero) async throws -> LeaseGrant {
        try await connection.call(AcquireLease.self, .init(instruments: instruments, timeout: timeout.seconds))
    }

    /// Takes a lease on `count` free instruments matching `query`.
    public func acquire(where query: JSONValue, count: Int = 1, timeout: Duration = .zero) async throws -> LeaseGrant {
        try await connection.call(AcquireLease.self, .init(where: query, count: count, timeout: timeout.seconds))
    }

    /// Releases a lease.
    public func release(_ lease: LeaseGrant) async throws {
        _ = try await connection.call(ReleaseLease.self, .init(lease: lease.lease))
    }

    /// The leases held now.
    public func leases() async throws -> [LeaseInfo] {
        try await connection.call(ListLeases.self, Empty()).leases
    }

    /// Revokes someone's lease (administration).
    public func revoke(_ lease: String, reason: String) async throws {
        _ = try await connection.call(RevokeLease.self, .init(lease: lease, reason: reason))
    }

    /// Unplugs a simulated instrument's device (`simulator.unplug`); returns its state (`gone`).
    @discardableResult
    public func unplugSimulator(_ instrument: String) async throws -> String {
        try await connection.call(UnplugSimulator.self, .init(instrument: instrument)).state
    }

    /// Plugs a simulated instrument's device back in (`simulator.replug`); returns its state
    /// (`ready` when connections still hold it and its driver was reopened, else `discovered`).
    @discardableResult
    public func replugSimulator(_ instrument: String) async throws -> String {
        try await connection.call(ReplugSimulator.self, .init(instrument: instrument)).state
    }

    /// Ended leases, newest first (`history.list`): only those that held `instrument`, that
    /// ended at or after `since`, at most `limit` (default 100).
    public func history(instrument: String? = nil, since: Date? = nil, limit: Int? = nil) async throws -> ListHistory.Result {
        try await connection.call(ListHistory.self, .init(instrument: instrument, since: since?.timeIntervalSince1970, limit: limit))
    }

    /// Administrative actions, newest first (`audit.list`; needs the daemon's state store).
    public func audit(since: Date? = nil, limit: Int? = nil) async throws -> [AuditLogEntry] {
        try await connection.call(ListAudit.self, .init(since: since?.timeIntervalSince1970, limit: limit)).entries
    }

    /// Runs `body` with the connection's event loop as the task's preferred executor: one
    /// thread wake-up per call instead of three, for a loop of calls that wait on each other.
    /// `body` must not block (see `LabvisorConnection.withAffinity(_:)`).
    ///
    /// ```swift
    /// let positions = try await labvisor.withConnectionAffinity {
    ///     var positions: [JSONValue] = []
    ///     for _ in 0..<1000 { positions.append(try await labvisor.get("stage-x", "position")) }
    ///     return positions
    /// }
    /// ```
    public func withConnectionAffinity<Result: Sendable>(_ body: () async throws -> Result) async rethrows -> Result {
        try await connection.withAffinity(body)
    }

    /// Runs `body` holding a lease on `instruments`, and releases it however `body` ends.
    public func withLease<Value: Sendable>(
        _ instruments: [String], timeout: Duration = .zero, _ body: (LeaseGrant) async throws -> Value
    ) async throws -> Value {
        let lease = try await acquire(instruments, timeout: timeout)
        do {
            let value = try await body(lease)
            try await release(lease)
            return value
        } catch {
            try? await release(lease)
            throw error
        }
    }

    /// Subscribes to events (all kinds and instruments when `nil`); the sequence ends when
    /// the connection does (see `EventWatch`). A `gap` event says how many events were dropped
    /// because this client read too slowly (by the daemon, or here past `buffer` events).
    public func watch(kinds: [Event.Kind]? = nil, instruments: [String]? = nil, buffer: Int = 4096) async throws -> EventWatch {
        let connection = self.connection
        let listener = LockedState(0)
        let watch = EventWatch(capacity: buffer) { connection.stopListening(listener.withLock { $0 }) }
        // Events may come before `events.watch` answers with the subscription's id: those are
        // kept until it is known. Later ones wait in the watch until the socket read that
        // brought them is handled, then the reader is woken once for all of them. Events are
        // kept under the lock, so they stay in order.
        let routing = LockedState<(subscription: Int?, early: [EventNotification.Params])>((nil, []))
        let key = connection.listen(
            EventNotification.name,
            receive: { [weak watch] notification in
                let params: EventNotification.Params
                switch notification {
                case .event(let read): params = read
                case .message(let message):
                    guard let tree = message["params"], let read = try? JSONValueDecoder().decode(EventNotification.Params.self, from: tree)
                    else { return }
                    params = read
                }
                routing.withLock { routing in
                    guard let subscription = routing.subscription else { return routing.early.append(params) }
                    if params.subscription == subscription { watch?.keep(params.event.event) }
                }
            },
            readComplete: { [weak watch] in watch?.handOver() },
            end: { [weak watch] in
                watch?.handOver()
                watch?.finish()
            })
        listener.withLock { $0 = key }
        let subscription: Int
        do {
            subscription = try await connection.call(WatchEvents.self, .init(kinds: kinds, instruments: instruments)).subscription
        } catch {
            watch.cancel()
            throw error
        }
        routing.withLock { routing in
            routing.subscription = subscription
            for params in routing.early where params.subscription == subscription { watch.keep(params.event.event) }
            routing.early = []
        }
        watch.handOver()
        return watch
    }

    /// Subscribes to an instrument's data stream (camera frames): the frames from the next
    /// one the driver publishes, as an `AsyncSequence` (see `FrameSubscription`). Starting
    /// the acquisition is a driver method (a camera's `startStreaming`).
    ///
    /// - Parameters:
    ///   - stream: the stream's name; default: the instrument's only (or first) stream.
    ///   - queue: frames kept for this client (in the daemon, and in this process) before the
    ///     oldest is dropped and counted (1 to 64).
    /// - Throws: `notFound` (instrument, stream), `invalidArgument` (`queue`),
    ///   `resourceExhausted` (streams per client).
    public func frames(instrument: String, stream: String? = nil, queue: Int = OpenStream.defaultQueue, leaseToken: String? = nil) async throws
        -> FrameSubscription
    {
        try await connection.openStream(
            .init(instrument: instrument, stream: stream, leaseToken: leaseToken, queue: queue), timeout: .seconds(60))
    }

    /// Every stream subscription in the daemon with its counters (frames delivered, queued, dropped).
    public func streamStatus(instrument: String? = nil) async throws -> StreamStatus.Result {
        try await connection.call(StreamStatus.self, .init(instrument: instrument))
    }

    /// Closes the connection.
    public func close() async {
        await connection.close()
    }
}
