import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// The small HTTP listener of DESIGN.md "The wire" (Hummingbird 2): `GET /healthz` answers
/// 200 with a small JSON object when the supervisor and the event loops answer within a
/// deadline (503 naming the part that did not), `GET /metrics` the Prometheus text of
/// `DaemonMetrics`. Off unless the configuration names an address (`[daemon] http`).
public final class MonitoringHTTPServer: Service, Sendable {
    /// Where it listens (port 0: any free port; `boundPort` tells which).
    public let address: ListenAddress
    /// How long `/healthz` waits for the liveness probes.
    public let healthDeadline: Duration
    private let supervisor: Supervisor
    private let metrics: DaemonMetrics
    private let clients: @Sendable () -> Int
    private let liveness: [LivenessProbe]
    private let logger: Logger
    private let listening = ListeningLatch<Int>()

    /// The `/healthz` body.
    public struct Health: Codable, Sendable, Hashable {
        /// `ok` or `unavailable`.
        public var status: String
        /// The daemon's version.
        public var version: String
        /// Seconds since it started.
        public var uptime: Double
        /// Instruments in the inventory.
        public var instruments: Int
        /// Clients connected.
        public var clients: Int
        /// Why it is unavailable.
        public var reason: String?
    }

    /// Creates the listener; `clients` reports connected clients.
    public init(
        address: ListenAddress, supervisor: Supervisor, metrics: DaemonMetrics, liveness: [LivenessProbe],
        healthDeadline: Duration = .seconds(2), logger: Logger = Logger(label: "labvisor.http"),
        clients: @escaping @Sendable () -> Int
    ) {
        self.address = address
        self.supervisor = supervisor
        self.metrics = metrics
        self.liveness = liveness
        self.healthDeadline = healthDeadline
        self.logger = logger
        self.clients = clients
    }

    public func run() async throws {
        defer { listening.end(.closed("the HTTP listener on \(address)")) }
        let router = Router()
        router.get("/healthz") { _, _ in await self.healthResponse() }
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: self.metrics.exposition(supervisor: self.supervisor, clients: self.clients()))))
        }
        let application = Application(
            router: router,
            configuration: ApplicationConfiguration(address: .hostname(address.host, port: address.port), serverName: "labvisord"),
            onServerRunning: { channel in self.started(port: channel.localAddress?.port ?? self.address.port) },
            logger: logger)
        try await application.run()
    }

    /// The port it listens on, once it does.
    public var boundPort: Int? { listening.value }

    /// Returns once it listens (a readiness condition of the systemd notifier).
    ///
    /// - Throws: `closed` when it stopped or could not listen; `CancellationError`.
    public func waitUntilListening() async throws {
        _ = try await listening.wait()
    }

    private func started(port: Int) {
        logger.info("http: /healthz and /metrics on http://\(address.hostForURL):\(port)")
        listening.open(port)
    }

    private func healthResponse() async -> Response {
        let failure = await LivenessProbe.checkAll(liveness, within: healthDeadline)
        let status = supervisor.status(clients: clients(), maxClients: 0, demo: false)
        let health = Health(
            status: failure == nil ? "ok" : "unavailable", version: status.version, uptime: status.uptime,
            instruments: status.instruments, clients: status.clients, reason: failure?.message)
        let body = (try? JSONEncoder().encode(health)).map { ByteBuffer(bytes: $0) } ?? ByteBuffer(string: "{}")
        return Response(
            status: failure == nil ? .ok : .serviceUnavailable, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: body))
    }
}

extension ReadinessCondition {
    /// The HTTP listener accepts connections.
    public static func listening(_ server: MonitoringHTTPServer) -> ReadinessCondition {
        ReadinessCondition("HTTP listener on \(server.address)") { try await server.waitUntilListening() }
    }
}
