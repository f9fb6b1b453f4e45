/// Something the daemon waits for before it tells systemd `READY=1`: the listeners are up,
/// discovery's coldplug is done. `wait` returns when the condition holds and must end early
/// (throwing) when its task is cancelled or the part it waits for has failed.
public struct ReadinessCondition: Sendable {
    /// What is awaited, for logs (`wire server listening`).
    public let name: String
    /// Returns once the condition holds.
    public let wait: @Sendable () async throws -> Void

    /// Creates a condition.
    public init(_ name: String, wait: @escaping @Sendable () async throws -> Void) {
        self.name = name
        self.wait = wait
    }

    /// The wire server accepts connections.
    public static func listening(_ server: RPCServer) -> ReadinessCondition {
        ReadinessCondition("wire server listening on unix://\(server.socketPath)") { try await server.waitUntilListening() }
    }
}

extension ReadinessCondition {
    /// Discovery has handled every device present at start (the coldplug scan).
    public static func coldplugFinished(_ discovery: DiscoveryService) -> ReadinessCondition {
        ReadinessCondition("discovery's coldplug scan") { try await discovery.coldplugFinished() }
    }
}
