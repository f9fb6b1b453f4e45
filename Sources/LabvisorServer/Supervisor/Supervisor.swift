import Foundation
import LabvisorDriverKit
import Logging

/// The daemon's inventory and what acts on it: instruments with their driver sessions, the
/// lease table and the event bus. Every wire operation lands here, checked (names,
/// arguments, access) before a driver runs.
public final class Supervisor: Sendable {
    /// Lease, lifecycle, property and call events.
    public let events: EventBus
    /// Who controls which instrument.
    public let leases: LeaseTable
    /// Default per-call timeout when the client gives none (a configuration reload may change it).
    public var defaultCallTimeout: Duration { limits.withLock { $0.callTimeout } }
    /// How long an instrument whose device went away is kept as `gone` for it to come back.
    public let gracePeriod: Duration
    /// When the supervisor started.
    public let startedAt = ContinuousClock.now
    /// The state store's writer, if the daemon has a state directory: allocation records and
    /// audit entries go there (queued, never waited for), and `history.list` reads from it.
    public let store: StoreService?
    let instruments = LockedState<[String: ManagedInstrument]>([:])
    /// Why instruments were removed (grace period over), by name, for `notFound` messages.
    let removals = LockedState<[String: String]>([:])
    /// The most stream subscriptions one client may hold (a configuration reload may change
    /// it; subscriptions already open are kept).
    public var streamsPerClient: Int { limits.withLock { $0.streamsPerClient } }
    let limits: LockedState<(callTimeout: Duration, streamsPerClient: Int)>
    private let streamSubscriptions = LockedState((next: 0, all: [Int: StreamSubscription]()))
    let logger: Logger

    /// Creates an empty supervisor. With a `store`, ended leases and administrative actions are
    /// recorded in it; `store` should subscribe to the same `events`.
    public init(
        events: EventBus = EventBus(), store: StoreService? = nil, defaultCallTimeout: Duration = .seconds(30),
        gracePeriod: Duration = .seconds(10), streamsPerClient: Int = 8,
        logger: Logger = Logger(label: "labvisor.supervisor")
    ) {
        self.events = events
        self.store = store
        self.leases = LeaseTable(events: events, recordSink: store?.allocationSink)
        self.limits = LockedState((defaultCallTimeout, streamsPerClient))
        self.gracePeriod = gracePeriod
        self.logger = logger
    }

    // MARK: - Inventory

    /// Adds an instrument (or replaces one of the same name).
    public func add(_ instrument: ManagedInstrument) {
        instruments.withLock { $0[instrument.name] = instrument }
        removals.withLock { _ = $0.removeValue(forKey: instrument.name) }
        leases.register(instrument.name, document: instrument.document, status: instrument.lifecycle.state.rawValue)
        events.publish(Event(
            kind: .instrumentAdded, instrument: instrument.name,
            fields: ["driver": .string(instrument.driver.id), "identity": .string(instrument.identityKey)]))
    }

    /// The instrument named `name`.
    ///
    /// - Throws: `notFound` listing the instruments there are.
    public func instrument(_ name: String) throws(LabvisorError) -> ManagedInstrument {
        guard let instrument = instruments.withLock({ $0[name] }) else {
            var error = LabvisorError.notFound("instrument", name)
            if let removal = removals.withLock({ $0[name] }) {
                error.message += " (\(removal))"
                error.fields["removed"] = .string(removal)
            } else {
                error.message += " (instruments: \(instrumentNames.joined(separator: ", ")))"
            }
            throw error
        }
        return instrument
    }

    /// The instruments' names, sorted.
    public var instrumentNames: [String] { instruments.withLock { $0.keys.sorted() } }

    /// `instruments.list`.
    public func list(_ params: ListInstruments.Params) throws(LabvisorError) -> ListInstruments.Result {
        let query = try params.where.map { (json) throws(LabvisorError) in try RequirementQuery(parsing: json) }
        let all = instruments.withLock { Array($0.values) }.sorted { $0.name < $1.name }
        let chosen = all.filter { query?.matches($0.document) ?? true }
        return ListInstruments.Result(instruments: chosen.map(summary))
    }

    /// `instruments.describe`.
    public func describe(_ params: DescribeInstrument.Params) throws(LabvisorError) -> DescribeInstrument.Result {
        let instrument = try instrument(params.instrument)
        return DescribeInstrument.Result(
            summary: summary(instrument), identification: instrument.lastIdentification?.json,
            interface: instrument.driver.interface)
    }

    /// `daemon.status`.
    public func status(clients: Int, maxClients: Int, demo: Bool) -> DaemonStatus.Result {
        DaemonStatus.Result(
            version: LabvisorVersion.current, uptime: (ContinuousClock.now - startedAt).seconds, clients: clients,
            maxClients: maxClients, instruments: instruments.withLock { $0.count }, leases: leases.leases.count, demo: demo,
            simulations: simulations)
    }

    /// How each simulated instrument is simulated, by name; `nil` when none is.
    private var simulations: [String: String]? {
        let all = instruments.withLock { instruments in
            instruments.compactMapValues { $0.simulation }
        }
        return all.isEmpty ? nil : all
    }

    // MARK: - Calls

    /// `instrument.invoke`: checks the method, its arguments and the caller's lease, then
    /// calls the driver (opening it on first use).
    public func invoke(_ params: InvokeMethod.Params, from session: ClientSession) async throws -> InvokeMethod.Result {
        let instrument = try instrument(params.instrument)
        let method = try instrument.driver.interface.method(params.method)
        let arguments = try method.validate(arguments: params.arguments)
        if method.access == .control {
            _ = try leases.authorize(session.client, token: params.leaseToken, for: instrument.name)
        }
        let timeout = try timeout(params.timeout)
        return try await reportingLoss(of: instrument) {
            let hosted = try await session.hosted(instrument)
            if params.oneway == true {
                let call = try hosted.invokeOneway(method.name, arguments: arguments, timeout: timeout)
                return InvokeMethod.Result(call: Int(call))
            }
            return InvokeMethod.Result(value: try await hosted.invoke(method.name, arguments: arguments, timeout: timeout))
        }
    }

    /// `instrument.get`: needs no lease.
    public func get(_ params: GetProperty.Params, from session: ClientSession) async throws -> GetProperty.Result {
        let instrument = try instrument(params.instrument)
        _ = try instrument.driver.interface.property(params.property)
        let timeout = try timeout(params.timeout)
        return try await reportingLoss(of: instrument) {
            let hosted = try await session.hosted(instrument)
            return GetProperty.Result(value: try await hosted.read(params.property, timeout: timeout))
        }
    }

    /// `instrument.set`: needs the caller's lease.
    public func set(_ params: SetProperty.Params, from session: ClientSession) async throws {
        let instrument = try instrument(params.instrument)
        let property = try instrument.driver.interface.property(params.property)
        guard property.writable else {
            var error = LabvisorError.invalidArgument(params.property, "property '\(params.property)' is read-only")
            error.fields["readOnly"] = true
            throw error
        }
        _ = try property.value.validate(params.value, as: params.property)
        _ = try leases.authorize(session.client, token: params.leaseToken, for: instrument.name)
        let timeout = try timeout(params.timeout)
        try await reportingLoss(of: instrument) {
            let hosted = try await session.hosted(instrument)
            try await hosted.write(params.property, value: params.value, timeout: timeout)
        }
    }

    // MARK: - Leases

    /// `leases.acquire`.
    public func acquire(_ params: AcquireLease.Params, from session: ClientSession) async throws -> LeaseGrant {
        let request: LeaseRequest
        switch (params.instruments, params.where) {
        case (let names?, nil):
            guard !names.isEmpty else { throw LabvisorError.invalidArgument("instruments", "name at least one instrument") }
            for name in names { _ = try instrument(name) }
            request = .names(names)
        case (nil, let query?):
            let count = params.count ?? 1
            guard count >= 1 else { throw LabvisorError.invalidArgument("count", "must be at least 1, got \(count)") }
            request = .query(try RequirementQuery(parsing: query), count: count)
        default:
            throw LabvisorError.invalidArgument("instruments", "give either 'instruments' (names) or 'where' (a query), not both or neither")
        }
        let wait: Duration = if let seconds = params.timeout, seconds > 0 { try timeout(seconds) } else { .zero }
        let lease = try await leases.acquire(request, for: session.client, timeout: wait)
        if session.isClosed {
            // The client left while waiting: a lease granted now would never be released.
            try? leases.release(lease.id, by: session.client)
            throw LabvisorError.closed("the connection of \(session.client)")
        }
        return grant(lease)
    }

    /// `leases.release`.
    public func release(_ params: ReleaseLease.Params, from session: ClientSession, token: String? = nil) throws(LabvisorError) {
        try leases.release(params.lease, by: session.client, token: token)
    }

    /// `leases.list`.
    public func listLeases() -> ListLeases.Result {
        ListLeases.Result(leases: leases.leases.sorted { $0.grantedAt < $1.grantedAt }.map {
            LeaseInfo(lease: $0.id, holder: $0.holder.name, instruments: $0.instruments, since: $0.grantedAt.timeIntervalSince1970)
        })
    }

    /// `leases.revoke`. Who may revoke is the wire's check (`administer` on every instrument of
    /// the lease, `AccessGuard`); without access lists, anyone connected may.
    public func revoke(_ params: RevokeLease.Params, from session: ClientSession) throws(LabvisorError) {
        let reason = params.reason.trimmingCharacters(in: .whitespaces)
        guard !reason.isEmpty else { throw LabvisorError.invalidArgument("reason", "say why the lease is revoked") }
        try leases.revoke(params.lease, by: session.client.name, reason: reason)
        logger.notice("lease \(params.lease) revoked by \(session.client.name): \(reason)")
        recordAudit(actor: session.client.name, action: "revoke", target: params.lease, detail: reason)
    }

    // MARK: - History

    /// `history.list`: from the state store, or without one from the lease table's memory
    /// (the last 1000 leases since the daemon started).
    public func history(_ params: ListHistory.Params) async throws(LabvisorError) -> ListHistory.Result {
        let query = try HistoryQuery(instrument: params.instrument, sinceSeconds: params.since, limit: params.limit)
        if let store {
            return ListHistory.Result(records: try await store.store.allocations(query), persistent: true)
        }
        let records = leases.history.reversed().lazy
            .filter { record in query.instrument.map { record.instruments.contains($0) } ?? true }
            .filter { record in query.since.map { (record.releasedAt ?? Date()) >= $0 } ?? true }
            .prefix(query.limit)
            .map(AllocationHistoryEntry.init)
        return ListHistory.Result(records: Array(records), persistent: false)
    }

    /// `audit.list`.
    ///
    /// - Throws: `unavailable` when the daemon runs without a state store.
    public func audit(_ params: ListAudit.Params) async throws(LabvisorError) -> ListAudit.Result {
        let query = try HistoryQuery(instrument: nil, sinceSeconds: params.since, limit: params.limit)
        guard let store else {
            throw LabvisorError(
                .unavailable, "the audit log needs the state store; this daemon runs without one (set state_dir or --state-dir)")
        }
        return ListAudit.Result(entries: try await store.store.audit(query))
    }

    // MARK: - Events

    /// `events.watch`: forwards the events the filter accepts to the client.
    public func watch(_ params: WatchEvents.Params, from session: ClientSession) -> WatchEvents.Result {
        let filter = EventFilter(kinds: params.kinds.map(Set.init), instruments: params.instruments.map(Set.init))
        return WatchEvents.Result(subscription: session.forward(events.subscribe(filter)))
    }

    /// `events.unwatch`.
    public func unwatch(_ params: UnwatchEvents.Params, from session: ClientSession) throws(LabvisorError) {
        try session.stopForwarding(params.subscription)
    }

    // MARK: - Streams

    /// `stream.open`: subscribes `session` to one of the instrument's streams (opening its
    /// driver on first use). Returns the result and `start`, to call once the response is on
    /// its way: frames are written only after it, so the client knows the id first.
    public func openStream(
        _ params: OpenStream.Params, from session: ClientSession
    ) async throws -> (result: OpenStream.Result, start: @Sendable () -> Void) {
        let instrument = try instrument(params.instrument)
        if let token = params.leaseToken { _ = try leases.authorize(session.client, token: token, for: instrument.name) }
        let queue = params.queue ?? OpenStream.defaultQueue
        guard (1...OpenStream.maxQueue).contains(queue) else {
            throw LabvisorError.invalidArgument("queue", "must be from 1 to \(OpenStream.maxQueue) frames, got \(queue)")
        }
        guard let output = session.output else {
            throw LabvisorError(.unavailable, "the connection of \(session.client) cannot carry streams")
        }
        let hosted = try await session.hosted(instrument)
        let names = hosted.streams.names
        guard let name = params.stream ?? names.first else {
            throw LabvisorError(.notFound, "instrument \(instrument.name) has no data streams", fields: ["instrument": .string(instrument.name)])
        }
        guard names.contains(name) else {
            var error = LabvisorError.notFound("stream", name)
            error.message += " on instrument \(instrument.name) (streams: \(names.joined(separator: ", ")))"
            error.fields["instrument"] = .string(instrument.name)
            throw error
        }
        let fanout = instrument.fanout(for: hosted.streams.stream(named: name))
        let id = streamSubscriptions.withLock { state in
            state.next += 1
            return state.next
        }
        let subscription = StreamSubscription(
            id: id, client: session.client.name, instrument: instrument.name, stream: name, queue: queue, output: output
        ) { [streamSubscriptions] subscription in
            fanout.detach(subscription.id)
            session.removeStream(subscription.id)
            _ = streamSubscriptions.withLock { $0.all.removeValue(forKey: subscription.id) }
        }
        try session.addStream(subscription, limit: streamsPerClient)
        streamSubscriptions.withLock { $0.all[id] = subscription }
        do {
            try fanout.attach(subscription)
        } catch {
            subscription.end(.disconnected)
            throw error
        }
        return (OpenStream.Result(subscription: id, instrument: instrument.name, stream: name, queue: queue), subscription.start)
    }

    /// `stream.close`.
    ///
    /// - Throws: `notFound` when `session` holds no such subscription.
    public func closeStream(_ params: CloseStream.Params, from session: ClientSession) throws(LabvisorError) {
        guard let subscription = session.removeStream(params.subscription) else {
            throw LabvisorError.notFound("stream subscription", String(params.subscription))
        }
        subscription.end(.closed)
    }

    /// `stream.status`.
    public func streamStatus(_ params: StreamStatus.Params) -> StreamStatus.Result {
        let all = streamSubscriptions.withLock { Array($0.all.values) }
        return StreamStatus.Result(
            subscriptions: all.filter { params.instrument == nil || $0.instrument == params.instrument }.map(\.info)
                .sorted { $0.subscription < $1.subscription },
            maxPerClient: streamsPerClient)
    }

    // MARK: - Connections

    /// The session of a client on a wire connection: `send` writes one message to it, and
    /// stream frames go to `output`.
    func connect(_ client: ClientRef, send: @escaping @Sendable ([UInt8]) async throws -> Void, output: any StreamOutput) -> ClientSession {
        ClientSession(client: client, send: send, output: output)
    }

    /// The session of a newly connected client; `send` writes one message to it.
    public func connect(_ client: ClientRef, send: @escaping @Sendable ([UInt8]) async throws -> Void = { _ in }) -> ClientSession {
        ClientSession(client: client, send: send)
    }

    /// Releases everything `session` held.
    public func disconnect(_ session: ClientSession) {
        session.close(in: self)
    }

    /// Shuts every running driver down to its safe state, in parallel, each within its own timeout.
    public func shutdown() async {
        let all = instruments.withLock { Array($0.values) }
        await withTaskGroup(of: Void.self) { group in
            for instrument in all {
                group.addTask { await instrument.session.retire() }
            }
        }
        events.finish()
    }

    // MARK: - Internals

    private func summary(_ instrument: ManagedInstrument) -> InstrumentSummary {
        let holder = leases.status(of: instrument.name)?.lease.map {
            LeaseHolder(lease: $0.id, holder: $0.holder.name, since: $0.grantedAt.timeIntervalSince1970)
        }
        return InstrumentSummary(
            name: instrument.name, kind: instrument.kind, driver: instrument.driver.id,
            state: instrument.lifecycle.state.rawValue, tags: instrument.tags, identity: instrument.identity,
            simulated: instrument.simulated, lease: holder)
    }

    private func grant(_ lease: Lease) -> LeaseGrant {
        LeaseGrant(lease: lease.id, token: lease.token, instruments: lease.instruments, since: lease.grantedAt.timeIntervalSince1970)
    }

    private func timeout(_ seconds: Double?) throws(LabvisorError) -> Duration {
        guard let seconds else { return defaultCallTimeout }
        guard seconds.isFinite, seconds > 0, seconds <= 86_400 else {
            throw LabvisorError.invalidArgument("timeout", "must be a number of seconds between 0 and 86400, got \(seconds)")
        }
        return .seconds(seconds)
    }
}

/// The daemon's version.
public enum LabvisorVersion {
    /// As `daemon.status` reports it.
    public static let current = "0.1.0"
}
