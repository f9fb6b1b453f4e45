import ServiceLifecycle

/// A swift-service-lifecycle `Service` whose life is a `RunState`: the service group's
/// graceful shutdown (SIGTERM) and its cancellation both cancel the run state, and the run
/// state's phase and times describe the service.
public struct RunStateService: Service {
    /// The run state this service runs.
    public let state: RunState
    private let body: @Sendable (RunState) async throws -> Void

    /// A service that runs `body` under `state`. The body should return when its task is
    /// cancelled (which `state.cancel` and graceful shutdown both cause).
    public init(state: RunState, body: @escaping @Sendable (RunState) async throws -> Void) {
        self.state = state
        self.body = body
    }

    public func run() async throws {
        let state = self.state
        let body = self.body
        try await withGracefulShutdownHandler {
            try await state.run { try await body(state) }
        } onGracefulShutdown: {
            state.cancel(reason: "graceful shutdown")
        }
    }
}
