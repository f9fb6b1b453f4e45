/// Whether a listener is up, for the tasks that wait for it (the systemd notifier's
/// readiness): `open(_:)` once it listens (with what it listens on), `end(_:)` when it
/// stops or could not start, which fails every wait then and later.
final class ListeningLatch<Value: Sendable>: Sendable {
    private struct State {
        var value: Value?
        var ended: LabvisorError?
        var waiters: [UInt64: WaitContinuation<Value, any Error>] = [:]
        var nextWaiter: UInt64 = 0
    }

    private let state = LockedState(State())

    /// What it listens on, while it does.
    var value: Value? { state.withLock { $0.value } }

    /// The listener is up: wakes every waiter.
    func open(_ value: Value) {
        let waiters = state.withLock { state in
            state.value = value
            defer { state.waiters = [:] }
            return state.waiters.values
        }
        for waiter in waiters { waiter.resume(returning: value) }
    }

    /// The listener stopped (or never started): fails every wait, now and later, with `error`.
    func end(_ error: LabvisorError) {
        let waiters = state.withLock { state in
            state.value = nil
            state.ended = error
            defer { state.waiters = [:] }
            return state.waiters.values
        }
        for waiter in waiters { waiter.resume(throwing: error) }
    }

    /// Returns what it listens on once it does.
    ///
    /// - Throws: the error given to `end(_:)`; `CancellationError` when the waiting task is cancelled.
    func wait() async throws -> Value {
        let state = self.state
        let id = state.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        return try await suspend(
            until: nil,
            register: { continuation in
                let now = state.withLock { state -> Result<Value, LabvisorError>? in
                    if let value = state.value { return .success(value) }
                    if let ended = state.ended { return .failure(ended) }
                    state.waiters[id] = continuation
                    return nil
                }
                switch now {
                case .success(let value)?: continuation.resume(returning: value)
                case .failure(let error)?: continuation.resume(throwing: error)
                case nil: break
                }
            },
            expire: { _ in state.withLock { $0.waiters.removeValue(forKey: id) }?.resume(throwing: CancellationError()) })
    }
}
