
/// A reference-counted resource (a driver session): the first `open` starts it up, further
/// opens only count, the last `close` shuts it down, after an optional linger during which
/// a new open cancels the shutdown. Opens and closes may overlap from any number of tasks.
///
/// - An open that arrives while a startup is in progress waits for it.
/// - An open that arrives while a shutdown is in progress waits for it, then starts the
///   resource again.
/// - A failed startup fails every waiting opener with the startup's error; the count stays
///   consistent (no reference is left open).
/// - `use(_:)` of a closed reference, or after `retire()`, fails with `closed`; so does an
///   unbalanced `close`, naming the reference's holder.
///
/// Startup and shutdown run in tasks owned by the session, not by any one caller, so a
/// cancelled opener or closer never leaves the resource half started or half shut down.
public final class SharedSession<Resource: Sendable>: Sendable {
    /// Counters for status pages and tests.
    public struct Statistics: Sendable, Hashable {
        /// Open references.
        public var openReferences: Int
        /// Openers waiting for a startup or shutdown to finish.
        public var waitingOpeners: Int
        /// Completed startups.
        public var startups: Int
        /// Failed startups.
        public var failedStartups: Int
        /// Completed shutdowns.
        public var shutdowns: Int
        /// The current phase: idle, starting, running, lingering, stopping, retired.
        public var phase: String
    }

    private enum Phase {
        case idle
        case starting
        case running(Resource)
        case lingering(Resource, generation: UInt64)
        case stopping
        case retired
    }

    private struct Waiter {
        let id: UInt64
        let holder: String
        /// Waits for the resource under a reference it already holds (`resource(for:)`),
        /// rather than for a new reference.
        var reuses = false
        let continuation: WaitContinuation<SessionReference, any Error>
    }

    private struct Storage {
        var phase = Phase.idle
        var linger: Duration
        var live: [UInt64: String] = [:]
        var waiters: [Waiter] = []
        var nextID: UInt64 = 1
        var generation: UInt64 = 0
        var inFlight: Task<Void, Never>?
        var startups = 0
        var failedStartups = 0
        var shutdowns = 0
        var retiring = false
        /// Set by `lose(with:)` until `revive()`: why the resource cannot be started now.
        var lost: LabvisorError?
        /// `revive()` came while a shutdown was in progress: start again after it.
        var reviveRequested = false
    }

    /// The session's name, used in errors ("session stage-x").
    public let name: String
    /// How long the resource stays up after the last close.
    public var linger: Duration { storage.withLock { $0.linger } }
    private let startup: @Sendable () async throws -> Resource
    private let shutdown: @Sendable (Resource) async -> Void
    private let storage: LockedState<Storage>

    /// Creates an idle session. `startup` brings the resource up (open the transport,
    /// identify, initialise); `shutdown` brings it to its safe state and releases it, and
    /// must not fail (it logs what went wrong).
    public init(
        name: String, linger: Duration = .zero,
        startup: @escaping @Sendable () async throws -> Resource,
        shutdown: @escaping @Sendable (Resource) async -> Void
    ) {
        self.name = name
        self.storage = LockedState(Storage(linger: linger))
        self.startup = startup
        self.shutdown = shutdown
    }

    /// Sets how long the resource stays up after the last close (a configuration reload). A
    /// linger already under way keeps the length it started with; the next one uses `linger`.
    public func setLinger(_ linger: Duration) {
        storage.withLock { $0.linger = linger }
    }

    /// Opens a reference for `holder`, starting the resource if it is the first. Waits
    /// (cancellably) while a startup or shutdown is in progress.
    public func open(by holder: String) async throws -> SessionReference {
        let (now, id) = storage.withLock { state -> (Result<SessionReference, LabvisorError>?, UInt64) in
            if let now = openNow(holder, in: &state) { return (now, 0) }
            defer { state.nextID += 1 }
            return (nil, state.nextID)
        }
        if let now { return try now.get() }
        return try await waitForOpen(id: id, holder: holder)
    }

    /// Closes a reference. The last close shuts the resource down (after the linger).
    /// Closing a reference that is not open is an error naming it and its holder.
    public func close(_ reference: SessionReference) throws(LabvisorError) {
        try storage.withLock { state throws(LabvisorError) in
            guard state.live.removeValue(forKey: reference.id) != nil else {
                throw LabvisorError(
                    .closed, "unbalanced close of session \(name): \(reference) is not open",
                    fields: ["session": .string(name), "reference": .int(Int(reference.id)),
                             "holder": .string(reference.holder)])
            }
            if state.live.isEmpty, case .running(let resource) = state.phase {
                scheduleShutdown(of: resource, in: &state)
            }
        }
    }

    /// The resource, for the holder of an open reference; `closed` otherwise.
    public func use(_ reference: SessionReference) throws(LabvisorError) -> Resource {
        try storage.withLock { state throws(LabvisorError) in
            guard state.live[reference.id] != nil, case .running(let resource) = state.phase else {
                throw closedError(reference)
            }
            return resource
        }
    }

    private func closedError(_ reference: SessionReference) -> LabvisorError {
        LabvisorError(
            .closed, "session \(name) is closed for \(reference)",
            fields: ["session": .string(name), "reference": .int(Int(reference.id)), "holder": .string(reference.holder)])
    }

    /// The resource while it is up (running or lingering), without taking a reference: for
    /// the owner to reach a running driver (to tell it that its device is gone).
    public var resource: Resource? {
        storage.withLock { state in
            switch state.phase {
            case .running(let resource), .lingering(let resource, _): resource
            case .idle, .starting, .stopping, .retired: nil
            }
        }
    }

    /// The resource for the holder of an open reference, waiting (cancellably) while it is
    /// being started or shut down, and starting it again when it is down while the reference
    /// is still open (after `lose(with:)` and `revive()`, or a failed restart).
    ///
    /// - Throws: `closed` for a reference that is not open or after `retire()`; the
    ///   `lose(with:)` error while the resource is lost; the startup's error.
    public func resource(for reference: SessionReference) async throws -> Resource {
        let now = storage.withLock { state -> Result<Resource, LabvisorError>? in
            guard state.live[reference.id] != nil else { return .failure(closedError(reference)) }
            if case .running(let resource) = state.phase { return .success(resource) }
            return nil
        }
        if let now { return try now.get() }
        _ = try await waitForResource(reference)
        return try use(reference)
    }

    /// The resource was lost (its device was unplugged): shuts it down now (cutting a linger
    /// short) but keeps every reference open. Until `revive()`, starting it again fails with
    /// `error` (`open`, `resource(for:)`); `use(_:)` fails with `closed`. Returns when the
    /// resource is down.
    public func lose(with error: LabvisorError) async {
        storage.withLock { state in
            state.lost = error
            state.reviveRequested = false
        }
        while true {
            let step = storage.withLock { state -> LoseStep<Resource> in
                // Revived meanwhile: leave the resource to `revive()`.
                guard state.lost != nil else { return .done }
                switch state.phase {
                case .starting, .stopping:
                    return .wait(state.inFlight!)
                case .running(let resource), .lingering(let resource, _):
                    state.inFlight?.cancel()
                    state.generation += 1
                    state.phase = .stopping
                    let task = Task { await self.runShutdown(resource) }
                    state.inFlight = task
                    return .wait(task)
                case .idle, .retired:
                    return .done
                }
            }
            guard case .wait(let task) = step else { return }
            await task.value
        }
    }

    /// The resource can be started again (the device is back). If references are still
    /// open, the resource is started now, in a task the session owns (`settle()` waits for
    /// it); a failed startup leaves it down, and the next `resource(for:)` tries again.
    /// Returns whether a startup began.
    @discardableResult
    public func revive() -> Bool {
        storage.withLock { state in
            state.lost = nil
            guard !state.live.isEmpty, !state.retiring else { return false }
            switch state.phase {
            case .idle:
                startResource(in: &state)
                return true
            case .stopping:
                state.reviveRequested = true
                return true
            case .starting, .running, .lingering, .retired:
                return false
            }
        }
    }

    /// Counters and phase.
    public var statistics: Statistics {
        storage.withLock { state in
            let phase =
                switch state.phase {
                case .idle: "idle"
                case .starting: "starting"
                case .running: "running"
                case .lingering: "lingering"
                case .stopping: "stopping"
                case .retired: "retired"
                }
            return Statistics(
                openReferences: state.live.count, waitingOpeners: state.waiters.count,
                startups: state.startups, failedStartups: state.failedStartups,
                shutdowns: state.shutdowns, phase: phase)
        }
    }

    /// Waits until no startup, shutdown or linger is in progress.
    public func settle() async {
        while let task = storage.withLock({ $0.inFlight }) {
            await task.value
        }
    }

    /// Ends the session for good (instrument removed, daemon stopping): waiting and new
    /// openers fail with `closed`, every reference becomes unusable, and a running resource
    /// is shut down now, linger or not. Returns when the resource is down.
    public func retire() async {
        while true {
            let (action, waiters) = storage.withLock { state -> (RetireStep<Resource>, [Waiter]) in
                state.retiring = true
                let waiters = state.waiters
                state.waiters.removeAll()
                switch state.phase {
                case .starting, .stopping:
                    return (.wait(state.inFlight!), waiters)
                case .lingering(let resource, _), .running(let resource):
                    state.inFlight?.cancel()
                    state.inFlight = nil
                    state.phase = .retired
                    state.live.removeAll()
                    return (.shutDown(resource), waiters)
                case .idle, .retired:
                    state.phase = .retired
                    state.live.removeAll()
                    return (.shutDown(nil), waiters)
                }
            }
            for waiter in waiters { waiter.continuation.resume(throwing: LabvisorError.closed("session \(name)")) }
            switch action {
            case .wait(let task):
                await task.value
            case .shutDown(let resource):
                if let resource {
                    await shutdown(resource)
                    storage.withLock { $0.shutdowns += 1 }
                }
                return
            }
        }
    }

    // MARK: - State machine

    /// Opens at once when the resource is up (cutting a linger short), fails when the session
    /// is retired or retiring; nil means the opener has to wait for a startup or shutdown.
    private func openNow(_ holder: String, in state: inout Storage) -> Result<SessionReference, LabvisorError>? {
        switch state.phase {
        case .running:
            return .success(Self.register(holder, in: &state))
        case .lingering(let resource, _):
            state.phase = .running(resource)
            state.generation += 1
            state.inFlight?.cancel()
            state.inFlight = nil
            return .success(Self.register(holder, in: &state))
        case .retired:
            return .failure(.closed("session \(name)"))
        case .idle, .starting, .stopping:
            if state.retiring { return .failure(.closed("session \(name)")) }
            if let lost = state.lost { return .failure(lost) }
            return nil
        }
    }

    private static func register(_ holder: String, in state: inout Storage) -> SessionReference {
        let id = state.nextID
        state.nextID += 1
        state.live[id] = holder
        return SessionReference(id: id, holder: holder)
    }

    private func waitForOpen(id: UInt64, holder: String) async throws -> SessionReference {
        try await withTaskCancellationHandler {
            try await withThrowingWaitContinuation { continuation in
                let immediate: Result<SessionReference, any Error>? = storage.withLock { state in
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if let now = openNow(holder, in: &state) { return now.mapError { $0 } }
                    state.waiters.append(Waiter(id: id, holder: holder, continuation: continuation))
                    if case .idle = state.phase { startResource(in: &state) }
                    return nil
                }
                if let immediate { continuation.resume(with: immediate) }
            }
        } onCancel: {
            cancelWaiter(id)
        }
    }

    /// Fails the waiter `id` with `CancellationError` (its task was cancelled), if it still waits.
    private func cancelWaiter(_ id: UInt64) {
        let waiter = storage.withLock { state -> Waiter? in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return state.waiters.remove(at: index)
        }
        waiter?.continuation.resume(throwing: CancellationError())
    }

    /// Waits for the resource under an open reference: like `waitForOpen`, without a new reference.
    private func waitForResource(_ reference: SessionReference) async throws -> SessionReference {
        let id = reference.id
        return try await withTaskCancellationHandler {
            try await withThrowingWaitContinuation { continuation in
                let immediate: Result<SessionReference, any Error>? = storage.withLock { state in
                    if Task.isCancelled { return .failure(CancellationError()) }
                    guard state.live[id] != nil else { return .failure(closedError(reference)) }
                    switch state.phase {
                    case .running: return .success(reference)
                    case .retired, .lingering: return .failure(closedError(reference))
                    case .idle, .starting, .stopping:
                        if state.retiring { return .failure(LabvisorError.closed("session \(name)")) }
                        if let lost = state.lost { return .failure(lost) }
                    }
                    state.waiters.append(Waiter(id: id, holder: reference.holder, reuses: true, continuation: continuation))
                    if case .idle = state.phase { startResource(in: &state) }
                    return nil
                }
                if let immediate { continuation.resume(with: immediate) }
            }
        } onCancel: {
            cancelWaiter(id)
        }
    }

    /// idle → starting, with the startup running in a task the session owns.
    private func startResource(in state: inout Storage) {
        state.phase = .starting
        state.inFlight = Task { await self.runStartup() }
    }

    private func runStartup() async {
        let outcome: Result<Resource, any Error>
        do { outcome = .success(try await startup()) } catch { outcome = .failure(error) }
        var granted: [(Waiter, SessionReference)] = []
        var failed: [Waiter] = []
        storage.withLock { state in
            state.inFlight = nil
            switch outcome {
            case .success(let resource):
                state.startups += 1
                state.phase = .running(resource)
                for waiter in state.waiters {
                    if waiter.reuses {
                        // Its reference was closed while it waited.
                        guard state.live[waiter.id] != nil else {
                            failed.append(waiter)
                            continue
                        }
                    } else {
                        state.live[waiter.id] = waiter.holder
                    }
                    granted.append((waiter, SessionReference(id: waiter.id, holder: waiter.holder)))
                }
                state.waiters.removeAll()
                // Every opener gave up while it started: shut it down again.
                if state.live.isEmpty { scheduleShutdown(of: resource, in: &state) }
            case .failure:
                state.failedStartups += 1
                state.phase = .idle
                failed = state.waiters
                state.waiters.removeAll()
            }
        }
        for (waiter, reference) in granted { waiter.continuation.resume(returning: reference) }
        switch outcome {
        case .failure(let error):
            for waiter in failed { waiter.continuation.resume(throwing: error) }
        case .success:
            for waiter in failed {
                waiter.continuation.resume(throwing: closedError(SessionReference(id: waiter.id, holder: waiter.holder)))
            }
        }
    }

    /// running with no references → lingering (then stopping) or stopping now.
    private func scheduleShutdown(of resource: Resource, in state: inout Storage) {
        let linger = state.linger
        if linger > .zero {
            state.generation += 1
            let generation = state.generation
            state.phase = .lingering(resource, generation: generation)
            state.inFlight = Task {
                do { try await Task.sleep(for: linger) } catch { return }
                self.lingerEnded(generation: generation)
            }
        } else {
            state.phase = .stopping
            state.inFlight = Task { await self.runShutdown(resource) }
        }
    }

    private func lingerEnded(generation: UInt64) {
        storage.withLock { state in
            guard case .lingering(let resource, let current) = state.phase, current == generation else { return }
            state.phase = .stopping
            state.inFlight = Task { await self.runShutdown(resource) }
        }
    }

    private func runShutdown(_ resource: Resource) async {
        await shutdown(resource)
        let (failed, lost) = storage.withLock { state -> ([Waiter], LabvisorError?) in
            state.shutdowns += 1
            state.inFlight = nil
            guard case .stopping = state.phase else { return ([], nil) }
            let revive = state.reviveRequested && !state.live.isEmpty
            state.reviveRequested = false
            if state.retiring {
                state.phase = .idle
            } else if let lost = state.lost {
                // Lost while it shut down: the waiters cannot have it.
                state.phase = .idle
                defer { state.waiters.removeAll() }
                return (state.waiters, lost)
            } else if !state.waiters.isEmpty || revive {
                startResource(in: &state)
            } else {
                state.phase = .idle
            }
            return ([], nil)
        }
        if let lost {
            for waiter in failed { waiter.continuation.resume(throwing: lost) }
        }
    }
}

/// What `SharedSession.lose` does after looking at the phase.
private enum LoseStep<Resource> {
    case wait(Task<Void, Never>)
    case done
}

/// What `SharedSession.retire` does after looking at the phase.
private enum RetireStep<Resource> {
    case wait(Task<Void, Never>)
    case shutDown(Resource?)
}
