import LabvisorCore

/// A connection's writability (SwiftNIO's `Channel.isWritable`, past its high-water mark) as
/// something a task can wait for: stream writers stop pulling frames while the socket does
/// not take data, so a slow client's frames wait (and drop) in its bounded queue, not in
/// the channel's outbound buffer.
final class WritabilityGate: Sendable {
    private struct State {
        var writable = true
        var closed = false
        var nextWaiter: UInt64 = 0
        var waiters: [UInt64: WaitContinuation<Void, any Error>] = [:]
    }

    private let state = LockedState(State())
    /// Names the connection in errors.
    let connection: String

    /// A gate for `connection`, writable at first.
    init(connection: String) {
        self.connection = connection
    }

    /// Whether the connection takes data now.
    var isWritable: Bool { state.withLock { $0.writable && !$0.closed } }

    /// Records the channel's writability (from `channelWritabilityChanged`); waiters go on
    /// when it becomes writable.
    func set(writable: Bool) {
        let waiters = state.withLock { state -> [WaitContinuation<Void, any Error>] in
            state.writable = writable
            guard writable else { return [] }
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// The connection ended: waiters and later waits fail with `closed`.
    func close() {
        let waiters = state.withLock { state -> [WaitContinuation<Void, any Error>] in
            state.closed = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume(throwing: LabvisorError.closed("the connection of \(connection)")) }
    }

    /// Returns at once while writable, else when the channel becomes writable.
    ///
    /// - Throws: `closed` when the connection ended; `LabvisorError.cancelled` when the task
    ///   is cancelled.
    func waitUntilWritable() async throws {
        let state = self.state
        let key = state.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        let connection = self.connection
        try await suspend(until: nil) { (continuation: WaitContinuation<Void, any Error>) in
            let ready: LabvisorError?? = state.withLock { state in
                if state.closed { return .some(LabvisorError.closed("the connection of \(connection)")) }
                if state.writable { return .some(nil) }
                state.waiters[key] = continuation
                return nil
            }
            switch ready {
            case .some(.some(let error)): continuation.resume(throwing: error)
            case .some(.none): continuation.resume()
            case .none: break
            }
        } expire: { _ in
            state.withLock { $0.waiters.removeValue(forKey: key) }?
                .resume(throwing: LabvisorError.cancelled("waiting for the connection of \(connection) to take data"))
        }
    }
}
