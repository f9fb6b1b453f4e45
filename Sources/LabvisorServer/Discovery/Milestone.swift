/// Something that happens once (coldplug done), which tasks can wait for, each with a
/// deadline and a cancellation path.
final class Milestone: Sendable {
    private struct State {
        var reached = false
        var nextID = 0
        var waiters: [Int: WaitContinuation<Void, any Error>] = [:]
    }

    /// What it is, for the timeout error ("discovery's coldplug").
    let name: String
    private let state = LockedState(State())

    init(_ name: String) { self.name = name }

    /// Whether it has happened.
    var isReached: Bool { state.withLock { $0.reached } }

    /// It happened: every waiter resumes, and later waits return at once. Idempotent.
    func reach() {
        let waiters = state.withLock { state -> [WaitContinuation<Void, any Error>] in
            state.reached = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Waits until it has happened.
    ///
    /// - Throws: `timeout` naming it past `timeout` (`nil`: no deadline); `CancellationError`.
    func wait(timeout: Duration?) async throws {
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        let name = self.name
        try await suspend(until: timeout.map { .now + $0 }) { (continuation: WaitContinuation<Void, any Error>) in
            let now = state.withLock { state -> Bool in
                if state.reached { return true }
                state.waiters[id] = continuation
                return false
            }
            if now { continuation.resume() }
        } expire: { end in
            let waiter = self.state.withLock { $0.waiters.removeValue(forKey: id) }
            switch end {
            case .cancelled: waiter?.resume(throwing: CancellationError())
            case .deadline:
                waiter?.resume(
                    throwing: LabvisorError(
                        .timeout, "\(name) did not finish within \(timeout.map { "\($0.seconds)" } ?? "?") s",
                        fields: ["timeoutSeconds": timeout.map { .double($0.seconds) } ?? .null]))
            }
        }
    }
}
