import Testing

/// Runs `body`, failing the test if it takes longer than `limit` (so a bug shows as a
/// failure, not a hung test run).
public func withTimeLimit<T: Sendable>(
    _ limit: Duration = .seconds(20), sourceLocation: SourceLocation = #_sourceLocation,
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
