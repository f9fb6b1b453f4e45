import NIOCore
import NIOPosix

/// A check that completes only while a part of the daemon works. The watchdog runs every
/// probe before each `WATCHDOG=1`: a probe that stalls (a lock held forever, a blocked event
/// loop, a starved task pool) stops the pings, and systemd restarts the daemon.
public struct LivenessProbe: Sendable {
    /// What is probed, for logs.
    public let name: String
    /// Returns when the part answered; throws when it answered with a failure.
    public let check: @Sendable () async throws -> Void

    /// Creates a probe.
    public init(_ name: String, check: @escaping @Sendable () async throws -> Void) {
        self.name = name
        self.check = check
    }

    /// Takes the supervisor's inventory, lease table and event bus locks, as every call does
    /// on its way to a driver.
    public static func supervisor(_ supervisor: Supervisor) -> LivenessProbe {
        LivenessProbe("supervisor") {
            _ = supervisor.status(clients: 0, maxClients: 0, demo: false)
            _ = supervisor.events.subscriberCount
        }
    }

    /// Runs a no-op on every event loop of `group` (the wire server's), where requests are
    /// decoded and quick ones answered.
    public static func eventLoops(_ group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) -> LivenessProbe {
        LivenessProbe("event loops") {
            for loop in group.makeIterator() {
                try await loop.submit {}.get()
            }
        }
    }
}

extension LivenessProbe {
    /// Runs `probes` in order and waits at most `limit` for them (`/healthz`). A probe that
    /// stalls is left running on its own task; the caller gets an answer either way.
    ///
    /// - Returns: `nil` when every probe answered in time; else `timeout` naming the probe
    ///   that did not answer, or the error a probe threw.
    public static func checkAll(_ probes: [LivenessProbe], within limit: Duration) async -> LabvisorError? {
        struct State {
            var waiter: WaitContinuation<Void, any Error>?
            var result: Result<Void, any Error>?
            /// The probe under way (the first until the task has started).
            var current: String
        }
        let state = LockedState(State(current: probes.first?.name ?? "none"))
        let task = Task {
            let result: Result<Void, any Error>
            do {
                for probe in probes {
                    state.withLock { $0.current = probe.name }
                    try await probe.check()
                }
                result = .success(())
            } catch {
                result = .failure(error)
            }
            let waiter = state.withLock { state in
                defer { state.waiter = nil }
                if state.waiter == nil { state.result = result }
                return state.waiter
            }
            waiter?.resume(with: result)
        }
        do {
            try await suspend(
                until: .now + limit,
                register: { continuation in
                    let done = state.withLock { state -> Result<Void, any Error>? in
                        if let result = state.result { return result }
                        state.waiter = continuation
                        return nil
                    }
                    if let done { continuation.resume(with: done) }
                },
                expire: { end in
                    let (waiter, current) = state.withLock { state in
                        defer { state.waiter = nil }
                        return (state.waiter, state.current)
                    }
                    waiter?.resume(throwing: end == .deadline
                        ? LabvisorError(.timeout, "liveness probe '\(current)' did not answer within \(limit)", fields: ["probe": .string(current)])
                        : CancellationError())
                })
            return nil
        } catch let error as LabvisorError {
            task.cancel()
            return error
        } catch is CancellationError {
            task.cancel()
            return LabvisorError(.unavailable, "the health check was cancelled")
        } catch {
            return LabvisorError(.unavailable, "liveness probe failed: \(error)")
        }
    }
}
