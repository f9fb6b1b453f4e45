import Foundation
import LabvisorCore
import LabvisorDriverTesting
import Testing

/// Collects published events for assertions.
final class EventRecorder: EventSink {
    private let events = LockedState<[Event]>([])

    func publish(_ event: Event) { events.withLock { $0.append(event) } }

    var all: [Event] { events.withLock { $0 } }

    func of(_ kind: Event.Kind) -> [Event] { all.filter { $0.kind == kind } }
}

/// A thread-safe counter or log for tests.
final class Locked<Value: Sendable>: Sendable {
    private let value: LockedState<Value>
    init(_ value: Value) { self.value = LockedState(value) }
    func withLock<R: Sendable>(_ body: (inout Value) -> R) -> R { value.withLock { body(&$0) } }
    var current: Value { value.withLock { $0 } }
}

/// Polls `condition` until it holds or `limit` passes.
func eventually(
    _ limit: Duration = .seconds(5), sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: @Sendable () -> Bool
) async throws {
    let deadline = ContinuousClock.now + limit
    while !condition() {
        if ContinuousClock.now > deadline {
            Issue.record("condition not met within \(limit)", sourceLocation: sourceLocation)
            return
        }
        try await Task.sleep(for: .milliseconds(2))
    }
}
