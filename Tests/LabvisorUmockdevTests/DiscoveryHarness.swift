import LabvisorCore
import LabvisorHardware
import LabvisorSimulation
import Testing

/// Runs a `UdevDiscovery` in a task and records its events, with bounded waits.
final class DiscoveryHarness: Sendable {
    let discovery: UdevDiscovery
    private let recorded = LockedState<[DiscoveryEvent]>([])
    private let runner: Task<Void, any Error>
    private let reader: Task<Void, Never>

    init(settleWindow: Duration = .milliseconds(75), gracePeriod: Duration = .seconds(10)) {
        let discovery = UdevDiscovery(
            configuration: DiscoveryConfiguration(settleWindow: settleWindow, gracePeriod: gracePeriod))
        self.discovery = discovery
        runner = Task { try await discovery.run() }
        let recorded = recorded
        reader = Task {
            for await event in discovery.events { recorded.withLock { $0.append(event) } }
        }
    }

    /// Every event so far.
    var events: [DiscoveryEvent] { recorded.withLock { $0 } }

    /// Waits (at most `limit`) until at least `count` events have arrived; returns them all.
    @discardableResult
    func waitForEvents(
        _ count: Int, within limit: Duration = .seconds(5), sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> [DiscoveryEvent] {
        let deadline = ContinuousClock.now + limit
        while events.count < count {
            if ContinuousClock.now > deadline {
                Issue.record("expected \(count) events within \(limit), got \(events)", sourceLocation: sourceLocation)
                throw CancellationError()
            }
            try await Task.sleep(for: .milliseconds(2))
        }
        return events
    }

    /// Stops discovery and waits (bounded) until `run()` returned and the stream finished.
    func stop(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        runner.cancel()
        let finished = LockedState(false)
        let watcher = Task { [runner, reader] in
            _ = await runner.result
            await reader.value
            finished.withLock { $0 = true }
        }
        let deadline = ContinuousClock.now + .seconds(5)
        while !finished.withLock({ $0 }) {
            if ContinuousClock.now > deadline {
                watcher.cancel()
                Issue.record("discovery did not stop within 5 s", sourceLocation: sourceLocation)
                return
            }
            try await Task.sleep(for: .milliseconds(2))
        }
        if case .failure(let error) = await runner.result {
            Issue.record("run() threw \(error)", sourceLocation: sourceLocation)
        }
    }
}
