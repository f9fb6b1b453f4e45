import Foundation
import LabvisorCore
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

/// Runs `body`, failing the test if it takes longer than `limit` (so a bug shows as a
/// failure, not a hung test run).
func withTimeLimit<T: Sendable>(
    _ limit: Duration = .seconds(10), sourceLocation: SourceLocation = #_sourceLocation,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            Issue.record("timed out after \(limit)", sourceLocation: sourceLocation)
            throw CancellationError()
        }
        return value
    }
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
