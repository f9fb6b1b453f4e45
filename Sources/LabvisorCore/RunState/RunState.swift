import Foundation

/// The run state of one long-running thing: `idle`, `running`, `stopping` (cancel
/// requested), `stopped`, with start and stop times, run time, and hooks on start, cancel
/// and stop. Run states form a tree: cancelling a parent cancels its children.
///
/// It builds on task cancellation rather than beside it: `run(_:)` executes its body in a
/// child task, `cancel(reason:)` cancels that task, and cancelling the task that called
/// `run(_:)` cancels the run state. `RunStateService` ties it to swift-service-lifecycle's
/// graceful shutdown.
public final class RunState: Sendable, CustomStringConvertible {
    /// A hook, called with the run state, outside any lock, on the task that caused it.
    public typealias Hook = @Sendable (RunState) -> Void

    /// A consistent picture of a run state at one moment.
    public struct Snapshot: Sendable, Hashable {
        /// The name given at creation.
        public var name: String
        /// The current phase.
        public var phase: RunPhase
        /// When `run` began (wall clock).
        public var startedAt: Date?
        /// When the body ended (wall clock).
        public var stoppedAt: Date?
        /// How long it has run: until `stoppedAt`, or until now while running.
        public var runTime: Duration
        /// Why it was cancelled, if it was.
        public var cancelReason: String?
    }

    private struct Storage {
        var phase = RunPhase.idle
        var startedAt: Date?
        var stoppedAt: Date?
        var startInstant: ContinuousClock.Instant?
        var stopInstant: ContinuousClock.Instant?
        var cancelReason: String?
        var startHooks: [Hook] = []
        var cancelHooks: [Hook] = []
        var stopHooks: [Hook] = []
        var children: [ObjectIdentifier: RunState] = [:]
        var interruption: Interruption?
        weak var parent: RunState?
    }

    /// The name, for logs and status ("daemon", "session stage-x", "stream cam-1").
    public let name: String
    private let storage: LockedState<Storage>

    /// Creates an idle run state. A child of `parent` is cancelled when the parent is; a
    /// child created under a parent that is already stopping or stopped starts cancelled.
    public init(name: String, parent: RunState? = nil) {
        self.name = name
        storage = LockedState(Storage())
        if let parent {
            storage.withLock { $0.parent = parent }
            if !parent.adopt(self) { cancel(reason: "parent \(parent.name) is \(parent.phase)") }
        }
    }

    /// Creates a child run state of this one.
    public func child(named name: String) -> RunState {
        RunState(name: name, parent: self)
    }

    /// The current phase.
    public var phase: RunPhase { storage.withLock { $0.phase } }

    /// Whether cancellation was requested (the phase is `stopping` or `stopped` by cancel).
    public var isCancelled: Bool { storage.withLock { $0.cancelReason != nil } }

    /// A consistent snapshot of every field.
    public var snapshot: Snapshot {
        let now = ContinuousClock.now
        return storage.withLock { state in
            let runTime: Duration =
                if let start = state.startInstant { (state.stopInstant ?? now) - start } else { .zero }
            return Snapshot(
                name: name, phase: state.phase, startedAt: state.startedAt, stoppedAt: state.stoppedAt,
                runTime: runTime, cancelReason: state.cancelReason)
        }
    }

    /// The live children (a child leaves its parent when it stops).
    public var children: [RunState] { storage.withLock { Array($0.children.values) } }

    /// Adds a hook called when `run` starts. A hook added after the start is not called.
    public func onStart(_ hook: @escaping Hook) { storage.withLock { $0.startHooks.append(hook) } }

    /// Adds a hook called once when cancellation is requested. Added after that, it runs at once.
    public func onCancel(_ hook: @escaping Hook) {
        let now = storage.withLock { state -> Bool in
            if state.cancelReason != nil { return true }
            state.cancelHooks.append(hook)
            return false
        }
        if now { hook(self) }
    }

    /// Adds a hook called once when the run state is stopped. Added after that, it runs at once.
    public func onStop(_ hook: @escaping Hook) {
        let now = storage.withLock { state -> Bool in
            if state.phase == .stopped { return true }
            state.stopHooks.append(hook)
            return false
        }
        if now { hook(self) }
    }

    /// Runs `body` as this run state's life: `idle` → `running` → (`stopping`) → `stopped`.
    /// `cancel(reason:)`, a cancelled parent, or cancellation of the calling task cancel the
    /// body's task; this returns what the body returned or throws what it threw, after it
    /// ended. Throws `closed` if the run state is not idle (a run state runs once).
    public func run<Value: Sendable>(_ body: @escaping @Sendable () async throws -> Value) async throws -> Value {
        let interruption = Interruption()
        let hooks = try storage.withLock { state throws(LabvisorError) -> [Hook] in
            guard state.phase == .idle else {
                throw LabvisorError(
                    .closed, "run state \(name) cannot run: it is \(state.phase)",
                    fields: ["what": .string(name), "phase": .string(state.phase.rawValue)])
            }
            state.phase = .running
            state.startedAt = Date()
            state.startInstant = .now
            state.interruption = interruption
            return state.startHooks
        }
        for hook in hooks { hook(self) }
        let outcome = await withTaskCancellationHandler {
            await withInterruption(interruption, body)
        } onCancel: {
            self.cancel(reason: "task cancelled")
        }
        finish()
        return try outcome.result.get()
    }

    /// Requests cancellation: a running body's task is cancelled and the phase becomes
    /// `stopping`; an idle run state goes straight to `stopped`. Children are cancelled too.
    /// Only the first reason is kept; later calls do nothing.
    public func cancel(reason: String) {
        let (hooks, children, interruption, stoppedNow) = storage.withLock {
            state -> ([Hook], [RunState], Interruption?, Bool) in
            guard state.cancelReason == nil, state.phase != .stopped else { return ([], [], nil, false) }
            state.cancelReason = reason
            let hooks = state.cancelHooks
            state.cancelHooks = []
            switch state.phase {
            case .idle:
                state.phase = .stopped
                state.stoppedAt = Date()
                return (hooks, Array(state.children.values), nil, true)
            case .running:
                state.phase = .stopping
                return (hooks, Array(state.children.values), state.interruption, false)
            case .stopping, .stopped:
                return (hooks, Array(state.children.values), nil, false)
            }
        }
        for hook in hooks { hook(self) }
        interruption?.fire(.interrupted(reason))
        for child in children { child.cancel(reason: "parent \(name) cancelled: \(reason)") }
        if stoppedNow { didStop() }
    }

    public var description: String {
        let snap = snapshot
        return "\(name) (\(snap.phase.rawValue), ran \(snap.runTime))"
    }

    private func finish() {
        storage.withLock { state in
            state.phase = .stopped
            state.stoppedAt = Date()
            state.stopInstant = .now
            state.interruption = nil
        }
        didStop()
    }

    private func didStop() {
        let (hooks, parent) = storage.withLock { state -> ([Hook], RunState?) in
            let hooks = state.stopHooks
            state.stopHooks = []
            return (hooks, state.parent)
        }
        parent?.disown(self)
        for hook in hooks { hook(self) }
    }

    /// Registers a child; false when this run state is already cancelled or stopped.
    private func adopt(_ child: RunState) -> Bool {
        storage.withLock { state in
            guard state.cancelReason == nil, state.phase != .stopped else { return false }
            state.children[ObjectIdentifier(child)] = child
            return true
        }
    }

    private func disown(_ child: RunState) {
        _ = storage.withLock { $0.children.removeValue(forKey: ObjectIdentifier(child)) }
    }
}
