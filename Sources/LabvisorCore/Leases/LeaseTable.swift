import DequeModule
import Foundation

/// The lease (lock) table: who has exclusive control of which instrument, who waits for
/// it, and who observes it.
///
/// - Acquisition is atomic (test-and-lock under one lock), by name, by several names at
///   once (all or nothing), or by a requirements query (any free matching instrument).
/// - Waiters are served in FIFO order: an instrument that an earlier waiter wants is not
///   given to a later one, even when the earlier one also waits for something else. Grants
///   are all-or-nothing under the lock, so nobody holds part of a request while waiting for
///   the rest: there is no hold-and-wait, hence no deadlock.
/// - `locked` (no wait) and `timeout` (waited too long) errors say who holds the
///   instrument, since when, how many wait, and its status.
/// - A revoked lease is remembered until its holder releases it or disconnects, so the
///   holder's next call gets `leaseRevoked` rather than a puzzling `leaseRequired`.
/// - `releaseAll(heldBy:)` frees everything a client held, waited for, or observed.
/// - Every granted lease gets an `AllocationRecord`, handed to `recordSink` when it ends.
public final class LeaseTable: Sendable {
    /// The table's limits.
    public struct Limits: Sendable, Hashable {
        /// Observer seats per instrument (the control seat is the lease).
        public var observerSeats: Int
        /// Waiting acquisitions, across all instruments.
        public var waiters: Int
        /// Ended allocation records kept in memory for `history`.
        public var history: Int

        /// Creates limits.
        public init(observerSeats: Int = 16, waiters: Int = 1024, history: Int = 1000) {
            self.observerSeats = observerSeats
            self.waiters = waiters
            self.history = history
        }
    }

    /// One instrument's entry, as `status(of:)` reports it.
    public struct InstrumentStatus: Sendable, Hashable {
        /// The instrument's name.
        public var name: String
        /// Its status string (the lifecycle state), as last set by the supervisor.
        public var status: String
        /// The lease on it, if any.
        public var lease: Lease?
        /// Acquisitions waiting that want it.
        public var waiters: Int
        /// Clients observing it.
        public var observers: Int
        /// Observer seats left.
        public var observerSeatsLeft: Int
    }

    private struct Entry {
        var document: JSONValue
        var status: String
        var lease: Int?
        var observers: Set<UInt64> = []
    }

    private struct Waiter {
        let id: UInt64
        let client: ClientRef
        let request: LeaseRequest
        let queuedAt: Date
        var continuation: WaitContinuation<Lease, any Error>?
    }

    private struct Held {
        var lease: Lease
        var record: AllocationRecord
    }

    private struct Revoked {
        let lease: Lease
        let by: String
        let reason: String
        let at: Date
    }

    private struct Storage {
        var entries: [String: Entry] = [:]
        var names: [String] = []  // sorted, for deterministic query grants
        // Leases are keyed by their number (the digits of "L17"): hashing an Int is cheaper
        // than hashing the id string, and the uncontended acquire is a hot path.
        var held: [Int: Held] = [:]
        var byToken: [String: Int] = [:]
        var revoked: [Int: Revoked] = [:]
        var waiters: Deque<Waiter> = []
        var nextWaiterID: UInt64 = 1
        var nextLeaseNumber = 1
        var history: Deque<AllocationRecord> = []
        var requestsSeen = 0
        var tokens = TokenSource()
    }

    /// The limits in force.
    public let limits: Limits
    private let events: (any EventSink)?
    private let recordSink: (@Sendable (AllocationRecord) -> Void)?
    private let storage = LockedState(Storage())

    /// Creates an empty table. `events` receives lease events; `recordSink` receives each
    /// allocation record when its lease ends (the store writes them).
    public init(
        limits: Limits = Limits(), events: (any EventSink)? = nil,
        recordSink: (@Sendable (AllocationRecord) -> Void)? = nil
    ) {
        self.limits = limits
        self.events = events
        self.recordSink = recordSink
    }

    // MARK: - Inventory

    /// Adds an instrument (or replaces its document and status). `document` is what
    /// requirements queries see; `status` is what errors report.
    public func register(_ name: String, document: JSONValue, status: String) {
        let grants = storage.withLock { state -> [(Waiter, Lease)] in
            if state.entries[name] == nil {
                var low = 0
                var high = state.names.count
                while low < high {
                    let middle = (low + high) / 2
                    if state.names[middle] < name { low = middle + 1 } else { high = middle }
                }
                state.names.insert(name, at: low)
                state.entries[name] = Entry(document: document, status: status)
            } else {
                state.entries[name]!.document = document
                state.entries[name]!.status = status
            }
            return grantWaiters(in: &state)
        }
        deliver(grants)
    }

    /// Updates an instrument's status string.
    public func setStatus(_ status: String, of name: String) {
        storage.withLock { state in state.entries[name]?.status = status }
    }

    /// Removes an instrument for good. A lease on it is revoked (its holder's next call says
    /// so); waiters that named it fail with `notFound`.
    public func unregister(_ name: String, reason: String) {
        let (revoked, failed, grants) = storage.withLock {
            state -> ((Lease, AllocationRecord)?, [Waiter], [(Waiter, Lease)]) in
            guard let entry = state.entries.removeValue(forKey: name) else { return (nil, [], []) }
            state.names.removeAll { $0 == name }
            let revoked = entry.lease.flatMap {
                revokeLocked($0, by: "labvisord", reason: reason, recordedAs: .instrumentGone(reason: reason), in: &state)
            }
            var failed: [Waiter] = []
            state.waiters.removeAll { waiter in
                guard case .names(let names) = waiter.request, names.contains(name) else { return false }
                failed.append(waiter)
                return true
            }
            return (revoked, failed, grantWaiters(in: &state))
        }
        for waiter in failed { waiter.continuation?.resume(throwing: LabvisorError.notFound("instrument", name)) }
        if let (lease, record) = revoked { publishRevocation(of: lease, record: record, by: "labvisord", reason: reason) }
        deliver(grants)
    }

    // MARK: - Acquire and release

    /// Acquires a lease for `client`. With `timeout` zero it does not wait (`locked` if
    /// unavailable); otherwise it waits in FIFO order up to `timeout` (`timeout` error), or
    /// until cancelled when `timeout` is nil.
    public func acquire(_ request: LeaseRequest, for client: ClientRef, timeout: Duration? = nil) async throws -> Lease {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        let queuedAt = Date()
        let attempt = try storage.withLock { state throws(LabvisorError) -> Result<Lease, LabvisorError>? in
            try validate(request, in: state)
            if let names = canGrant(request, in: state, blockedBy: blockedByWaiters(in: state)) {
                state.requestsSeen += 1
                return .success(grant(names, for: request, to: client, queuedAt: queuedAt, grantedAt: queuedAt, in: &state))
            }
            if timeout == .zero {
                state.requestsSeen += 1
                return .failure(unavailableError(for: request, code: .locked, in: state))
            }
            guard state.waiters.count < limits.waiters else {
                throw LabvisorError.resourceExhausted("waiting lease requests", value: limits.waiters)
            }
            return nil
        }
        if let attempt {
            let lease = try attempt.get()
            publishGrant(lease)
            return lease
        }
        let lease = try await waitForGrant(request, client: client, queuedAt: queuedAt, deadline: deadline)
        publishGrant(lease)
        return lease
    }

    /// Releases a lease. Its holder (or, with the token, anyone) may release it; releasing
    /// a revoked lease just forgets the revocation.
    public func release(_ leaseID: String, by client: ClientRef, token: String? = nil) throws(LabvisorError) {
        let (record, grants) = try storage.withLock { state throws(LabvisorError) -> (AllocationRecord?, [(Waiter, Lease)]) in
            guard let number = Self.number(of: leaseID) else { throw LabvisorError.notFound("lease", leaseID) }
            if let held = state.held[number] {
                guard held.lease.holder == client || token == held.lease.token else {
                    throw LabvisorError(
                        .permissionDenied, "\(held.lease) cannot be released by \(client)",
                        fields: ["lease": .string(leaseID), "holder": .string(held.lease.holder.description)])
                }
                let record = end(number, reason: .released, in: &state)
                return (record, grantWaiters(in: &state))
            }
            if state.revoked.removeValue(forKey: number) != nil { return (nil, []) }
            throw LabvisorError.notFound("lease", leaseID)
        }
        finish(record, grants: grants)
    }

    /// Revokes a lease: it ends now, and its holder learns it on its next call.
    public func revoke(_ leaseID: String, by administrator: String, reason: String) throws(LabvisorError) {
        let (revoked, grants) = try storage.withLock {
            state throws(LabvisorError) -> ((Lease, AllocationRecord), [(Waiter, Lease)]) in
            guard let number = Self.number(of: leaseID),
                let revoked = revokeLocked(number, by: administrator, reason: reason, in: &state)
            else {
                throw LabvisorError.notFound("lease", leaseID)
            }
            return (revoked, grantWaiters(in: &state))
        }
        publishRevocation(of: revoked.0, record: revoked.1, by: administrator, reason: reason)
        deliver(grants)
    }

    /// Ends a live lease as revoked and remembers it for its holder; nil if not live.
    /// `recordedAs` is the record's release reason (default: revoked by `administrator`).
    private func revokeLocked(
        _ number: Int, by administrator: String, reason: String, recordedAs recorded: ReleaseReason? = nil,
        in state: inout Storage
    ) -> (Lease, AllocationRecord)? {
        guard let lease = state.held[number]?.lease,
            let record = end(number, reason: recorded ?? .revoked(by: administrator, reason: reason), in: &state)
        else { return nil }
        state.revoked[number] = Revoked(lease: lease, by: administrator, reason: reason, at: Date())
        return (lease, record)
    }

    private func publishRevocation(of lease: Lease, record: AllocationRecord, by administrator: String, reason: String) {
        recordSink?(record)
        publish(
            .leaseRevoked, on: lease.instruments,
            fields: [
                "lease": .string(lease.id), "holder": .string(lease.holder.description),
                "by": .string(administrator), "reason": .string(reason),
            ])
    }

    /// Frees everything `client` held: its leases end (`clientDisconnected`), its waiting
    /// acquisitions fail with `closed`, its observer seats are freed and its revocations
    /// forgotten. Returns the records of the leases it ended.
    @discardableResult
    public func releaseAll(heldBy client: ClientRef, reason: ReleaseReason = .clientDisconnected) -> [AllocationRecord] {
        let (records, cancelled, grants) = storage.withLock { state -> ([AllocationRecord], [Waiter], [(Waiter, Lease)]) in
            let numbers = state.held.filter { $0.value.lease.holder == client }.map(\.key)
            let records = numbers.compactMap { end($0, reason: reason, in: &state) }
            state.revoked = state.revoked.filter { $0.value.lease.holder != client }
            for name in state.names where state.entries[name]!.observers.contains(client.id) {
                state.entries[name]!.observers.remove(client.id)
            }
            var cancelled: [Waiter] = []
            state.waiters.removeAll { waiter in
                guard waiter.client == client else { return false }
                cancelled.append(waiter)
                return true
            }
            return (records, cancelled, grantWaiters(in: &state))
        }
        for waiter in cancelled {
            waiter.continuation?.resume(throwing: LabvisorError.closed("the connection of \(client)"))
        }
        for record in records { publishEnd(record) }
        deliver(grants)
        return records
    }

    // MARK: - Authorization

    /// The lease under which `client` (or a holder of `token`) may control `instrument`.
    /// Throws `notFound`, `leaseRevoked` (with who revoked it and why) or `leaseRequired`
    /// (naming the current holder, if any).
    public func authorize(_ client: ClientRef, token: String? = nil, for instrument: String) throws(LabvisorError) -> Lease {
        try storage.withLock { state throws(LabvisorError) -> Lease in
            guard let entry = state.entries[instrument] else { throw LabvisorError.notFound("instrument", instrument) }
            if let leaseID = entry.lease, let held = state.held[leaseID],
                held.lease.holder == client || (token != nil && token == held.lease.token)
            {
                return held.lease
            }
            if let revoked = state.revoked.values.first(where: {
                $0.lease.instruments.contains(instrument)
                    && ($0.lease.holder == client || (token != nil && token == $0.lease.token))
            }) {
                throw LabvisorError(
                    .leaseRevoked,
                    "lease \(revoked.lease.id) on \(instrument) was revoked by \(revoked.by): \(revoked.reason)",
                    fields: [
                        "lease": .string(revoked.lease.id), "instrument": .string(instrument),
                        "by": .string(revoked.by), "reason": .string(revoked.reason),
                        "at": .string(revoked.at.formatted(.iso8601)),
                    ])
            }
            var fields: [String: JSONValue] = ["instrument": .string(instrument)]
            var message = "controlling \(instrument) needs its lease"
            if let leaseID = entry.lease, let held = state.held[leaseID] {
                fields["holder"] = .string(held.lease.holder.description)
                message += "; it is held by \(held.lease.holder)"
            }
            throw LabvisorError(.leaseRequired, message, fields: fields)
        }
    }

    /// The lease that a token stands for, if it is live.
    public func lease(forToken token: String) -> Lease? {
        storage.withLock { state in state.byToken[token].flatMap { state.held[$0]?.lease } }
    }

    // MARK: - Observer seats

    /// Takes an observer seat on `instrument` for `client` (idempotent). Past the limit:
    /// `resourceExhausted` naming the instrument's observer seats and their number.
    public func observe(_ instrument: String, by client: ClientRef) throws(LabvisorError) {
        try storage.withLock { state throws(LabvisorError) in
            guard var entry = state.entries[instrument] else { throw LabvisorError.notFound("instrument", instrument) }
            if entry.observers.contains(client.id) { return }
            guard entry.observers.count < limits.observerSeats else {
                throw LabvisorError.resourceExhausted("observer seats of \(instrument)", value: limits.observerSeats)
            }
            entry.observers.insert(client.id)
            state.entries[instrument] = entry
        }
    }

    /// Gives up `client`'s observer seat on `instrument`.
    public func stopObserving(_ instrument: String, by client: ClientRef) {
        _ = storage.withLock { $0.entries[instrument]?.observers.remove(client.id) }
    }

    // MARK: - Status

    /// The entry of one instrument; nil if it is not registered.
    public func status(of instrument: String) -> InstrumentStatus? {
        storage.withLock { state in
            state.entries[instrument].map { entry in
                InstrumentStatus(
                    name: instrument, status: entry.status, lease: entry.lease.flatMap { state.held[$0]?.lease },
                    waiters: waiterCount(for: instrument, in: state), observers: entry.observers.count,
                    observerSeatsLeft: limits.observerSeats - entry.observers.count)
            }
        }
    }

    /// Every live lease, oldest first.
    public var leases: [Lease] {
        storage.withLock { state in state.held.values.map(\.lease).sorted { $0.grantedAt < $1.grantedAt } }
    }

    /// The records of live leases (not yet ended).
    public var liveRecords: [AllocationRecord] {
        storage.withLock { state in state.held.values.map(\.record).sorted { $0.startedAt < $1.startedAt } }
    }

    /// The most recent ended allocation records, oldest first (at most `limits.history`).
    public var history: [AllocationRecord] { storage.withLock { $0.history.array } }

    /// Waiting acquisitions.
    public var waiterCount: Int { storage.withLock { $0.waiters.count } }

    /// Acquisitions the table has taken in (granted, queued or refused as locked), since it
    /// was created: a counter for status and metrics.
    public var requestsSeen: Int { storage.withLock { $0.requestsSeen } }

    // MARK: - Internals (all called with the lock held)

    private func validate(_ request: LeaseRequest, in state: Storage) throws(LabvisorError) {
        switch request {
        case .names(let names):
            guard !names.isEmpty else { throw LabvisorError.invalidArgument("names", "at least one instrument is needed") }
            for (index, name) in names.enumerated() where names[..<index].contains(name) {
                throw LabvisorError.invalidArgument("names", "\(name) is named twice")
            }
            for name in names where state.entries[name] == nil { throw LabvisorError.notFound("instrument", name) }
        case .query(let query, let count):
            guard count >= 1 else { throw LabvisorError.invalidArgument("count", "must be at least 1, not \(count)") }
            let matching = state.names.lazy.filter { query.matches(state.entries[$0]!.document) }.count
            guard matching >= count else {
                throw LabvisorError(
                    .notFound,
                    matching == 0
                        ? "no instrument matches \(query)"
                        : "only \(matching) instruments match \(query), \(count) requested",
                    fields: ["where": query.json, "count": .int(count), "matching": .int(matching)])
            }
        }
    }

    /// The instruments that earlier waiters want, and so may not be given to a later request.
    private func blockedByWaiters(in state: Storage) -> Set<String> {
        var blocked: Set<String> = []
        for waiter in state.waiters { blocked.formUnion(wanted(by: waiter.request, in: state)) }
        return blocked
    }

    private func wanted(by request: LeaseRequest, in state: Storage) -> [String] {
        switch request {
        case .names(let names): names
        case .query(let query, _): state.names.filter { query.matches(state.entries[$0]!.document) }
        }
    }

    /// The instruments a request would get now, or nil.
    private func canGrant(_ request: LeaseRequest, in state: Storage, blockedBy blocked: Set<String>) -> [String]? {
        func free(_ name: String) -> Bool {
            guard let entry = state.entries[name] else { return false }
            return entry.lease == nil && !blocked.contains(name)
        }
        switch request {
        case .names(let names):
            guard names.allSatisfy(free) else { return nil }
            return names.count == 1 ? names : names.sorted()
        case .query(let query, let count):
            var chosen: [String] = []
            for name in state.names where free(name) && query.matches(state.entries[name]!.document) {
                chosen.append(name)
                if chosen.count == count { return chosen }
            }
            return nil
        }
    }

    /// Gives `names` (which `canGrant` chose for `request`) to `client`. An immediate grant
    /// passes `grantedAt` (its request time) to read the wall clock once.
    private func grant(_ names: [String], for request: LeaseRequest, to client: ClientRef, queuedAt: Date,
                       grantedAt: Date? = nil, in state: inout Storage) -> Lease {
        let number = state.nextLeaseNumber
        state.nextLeaseNumber += 1
        let lease = Lease(
            id: "L\(number)", token: state.tokens.next(), instruments: names, holder: client,
            grantedAt: grantedAt ?? Date())
        for name in names { state.entries[name]!.lease = number }
        state.byToken[lease.token] = number
        state.held[number] = Held(
            lease: lease,
            record: AllocationRecord(
                leaseID: lease.id, holder: client.description, holderName: client.name, uid: client.uid, pid: client.pid,
                instruments: names, request: request,
                queuedAt: queuedAt, startedAt: lease.grantedAt))
        return lease
    }

    /// Grants, in FIFO order, every waiter that can be served now.
    private func grantWaiters(in state: inout Storage) -> [(Waiter, Lease)] {
        guard !state.waiters.isEmpty else { return [] }
        var blocked: Set<String> = []
        var granted: [(Waiter, Lease)] = []
        var index = state.waiters.startIndex
        while index < state.waiters.endIndex {
            let waiter = state.waiters[index]
            if let names = canGrant(waiter.request, in: state, blockedBy: blocked) {
                let lease = grant(names, for: waiter.request, to: waiter.client, queuedAt: waiter.queuedAt, in: &state)
                state.waiters.remove(at: index)
                granted.append((waiter, lease))
            } else {
                blocked.formUnion(wanted(by: waiter.request, in: state))
                index += 1
            }
        }
        return granted
    }

    /// Ends a live lease; returns its completed record.
    private func end(_ number: Int, reason: ReleaseReason, in state: inout Storage) -> AllocationRecord? {
        guard var held = state.held.removeValue(forKey: number) else { return nil }
        for name in held.lease.instruments where state.entries[name]?.lease == number {
            state.entries[name]!.lease = nil
        }
        state.byToken.removeValue(forKey: held.lease.token)
        held.record.releasedAt = Date()
        held.record.releaseReason = reason
        state.history.append(held.record)
        if state.history.count > limits.history { state.history.removeFirst() }
        return held.record
    }

    private func waiterCount(for instrument: String, in state: Storage) -> Int {
        state.waiters.lazy.filter { self.wanted(by: $0.request, in: state).contains(instrument) }.count
    }

    private func unavailableError(for request: LeaseRequest, code: ErrorCode, in state: Storage) -> LabvisorError {
        // Name the first instrument in the way: held by someone, else reserved by a waiter.
        let wanted = wanted(by: request, in: state)
        let name = wanted.first { state.entries[$0]?.lease != nil } ?? wanted.first!
        let entry = state.entries[name]!
        let waiters = waiterCount(for: name, in: state)
        var fields: [String: JSONValue] = [
            "instrument": .string(name), "waiters": .int(waiters), "status": .string(entry.status),
            "request": request.json,
        ]
        var message: String
        if let leaseID = entry.lease, let held = state.held[leaseID] {
            let since = held.lease.grantedAt.formatted(.iso8601)
            fields["holder"] = .string(held.lease.holder.description)
            fields["lease"] = .string(held.lease.id)
            fields["since"] = .string(since)
            message = "\(name) is locked by \(held.lease.holder) since \(since)"
        } else {
            message = "\(name) is reserved for earlier waiters"
        }
        message += "; \(waiters) waiting; status \(entry.status)"
        if code == .timeout { message = "timed out waiting for \(request): " + message }
        return LabvisorError(code, message, fields: fields)
    }

    /// The number in a lease id ("L17" → 17).
    private static func number(of leaseID: String) -> Int? {
        guard leaseID.first == "L" else { return nil }
        return Int(leaseID.dropFirst())
    }

    // MARK: - Waiting

    private func waitForGrant(_ request: LeaseRequest, client: ClientRef, queuedAt: Date, deadline: ContinuousClock.Instant?)
        async throws -> Lease
    {
        let id = storage.withLock { state -> UInt64 in
            defer { state.nextWaiterID += 1 }
            return state.nextWaiterID
        }
        return try await suspend(until: deadline) { (continuation: WaitContinuation<Lease, any Error>) in
            let outcome = storage.withLock { state -> Result<Lease, any Error>? in
                do throws(LabvisorError) {
                    try validate(request, in: state)
                } catch {
                    return .failure(error)
                }
                state.requestsSeen += 1
                if let names = canGrant(request, in: state, blockedBy: blockedByWaiters(in: state)) {
                    return .success(grant(names, for: request, to: client, queuedAt: queuedAt, in: &state))
                }
                state.waiters.append(
                    Waiter(id: id, client: client, request: request, queuedAt: queuedAt, continuation: continuation))
                return nil
            }
            if let outcome { continuation.resume(with: outcome) }
        } expire: { end in
            let (waiter, error, grants) = self.storage.withLock { state -> (Waiter?, LabvisorError?, [(Waiter, Lease)]) in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return (nil, nil, []) }
                let waiter = state.waiters.remove(at: index)
                let error: LabvisorError? =
                    end == .deadline ? self.unavailableError(for: request, code: .timeout, in: state) : nil
                // Its departure may unblock later waiters.
                return (waiter, error, self.grantWaiters(in: &state))
            }
            if let waiter {
                waiter.continuation?.resume(throwing: error ?? CancellationError())
            }
            self.deliver(grants)
        }
    }

    private func deliver(_ grants: [(Waiter, Lease)]) {
        for (waiter, lease) in grants { waiter.continuation?.resume(returning: lease) }
    }

    private func publishGrant(_ lease: Lease) {
        publish(
            .leaseAcquired, on: lease.instruments,
            fields: [
                "lease": .string(lease.id), "holder": .string(lease.holder.description),
                "instruments": .array(lease.instruments.map(JSONValue.string)),
            ])
    }

    private func publishEnd(_ record: AllocationRecord) {
        recordSink?(record)
        publish(
            .leaseReleased, on: record.instruments,
            fields: [
                "lease": .string(record.leaseID), "holder": .string(record.holder),
                "reason": .string(record.releaseReason?.code ?? "released"),
            ])
    }

    /// One event per instrument, so that subscribers filtering by instrument see it. The
    /// fields are built only when someone listens.
    private func publish(_ kind: Event.Kind, on instruments: [String], fields: @autoclosure () -> [String: JSONValue]) {
        guard let events, events.isObserved(kind) else { return }
        let fields = fields()
        for instrument in instruments { events.publish(Event(kind: kind, instrument: instrument, fields: fields)) }
    }

    private func finish(_ record: AllocationRecord?, grants: [(Waiter, Lease)]) {
        if let record { publishEnd(record) }
        deliver(grants)
    }

}
