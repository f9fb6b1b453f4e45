import LabvisorCore
import Testing

/// The `LabvisorError` that `body` throws; records a failed expectation (and returns `nil`)
/// when it throws none or another kind of error.
public func thrownError<T>(sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> T) async -> LabvisorError? {
    do {
        _ = try await body()
        Issue.record("expected an error", sourceLocation: sourceLocation)
        return nil
    } catch let error as LabvisorError {
        return error
    } catch {
        Issue.record("expected a LabvisorError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}
