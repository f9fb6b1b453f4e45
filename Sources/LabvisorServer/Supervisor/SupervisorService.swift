import ServiceLifecycle

/// Runs the supervisor in the daemon's `ServiceGroup`: on graceful shutdown (SIGTERM,
/// SIGINT) or cancellation, it shuts every driver down to its safe state, in parallel, each
/// within its timeout, then stops the simulators if any.
public struct SupervisorService: Service {
    /// The supervisor.
    public let supervisor: Supervisor
    /// The simulated instruments' simulators, stopped after the drivers.
    public let simulators: SimulatedInstruments?

    /// Creates the service.
    public init(supervisor: Supervisor, simulators: SimulatedInstruments? = nil) {
        self.supervisor = supervisor
        self.simulators = simulators
    }

    public func run() async throws {
        try? await gracefulShutdown()
        await supervisor.shutdown()
        simulators?.stop()
    }
}
