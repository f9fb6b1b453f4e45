import ServiceLifecycle

/// Runs the supervisor in the daemon's `ServiceGroup`: on graceful shutdown (SIGTERM,
/// SIGINT) or cancellation, it shuts every driver down to its safe state, in parallel, each
/// within its timeout, then stops the demo simulators if any.
public struct SupervisorService: Service {
    /// The supervisor.
    public let supervisor: Supervisor
    /// The demo simulators, stopped after the drivers.
    public let demo: DemoInstruments?

    /// Creates the service.
    public init(supervisor: Supervisor, demo: DemoInstruments? = nil) {
        self.supervisor = supervisor
        self.demo = demo
    }

    public func run() async throws {
        try? await gracefulShutdown()
        await supervisor.shutdown()
        demo?.stop()
    }
}
