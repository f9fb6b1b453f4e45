import Foundation
import LabvisorProtocol
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// The wire server: JSON-RPC 2.0 over length-prefixed frames on a unix socket (and, later,
/// TCP), served by SwiftNIO. A `Service`: `run()` listens until graceful shutdown or
/// cancellation, then stops accepting and closes every connection (each one's leases and
/// sessions are released as it closes).
public final class RPCServer: Service, Sendable {
    /// Limits on what clients may use.
    public struct Limits: Sendable, Hashable {
        /// Connected clients.
        public var clients: Int
        /// Calls in flight per client.
        public var callsInFlight: Int
        /// The largest frame, in bytes.
        public var frameSize: Int

        /// Creates limits.
        public init(clients: Int = 64, callsInFlight: Int = 256, frameSize: Int = Framing.defaultMaxFrameSize) {
            self.clients = clients
            self.callsInFlight = callsInFlight
            self.frameSize = frameSize
        }
    }

    /// Where it listens.
    public let socketPath: String
    /// The limits in force.
    public let limits: Limits
    private let supervisor: Supervisor
    private let registry = ConnectionRegistry()
    private let demo: Bool
    private let simulators: SimulatedInstruments?
    private let logger: Logger
    private let listening = ListeningLatch<any Channel>()

    private let calls: (any CallObserver)?

    /// Creates a server for `supervisor` on the unix socket `socketPath`; `calls` (the
    /// metrics) is told about every instrument call; `simulators` answer `simulator.unplug`
    /// and `simulator.replug`.
    public init(
        supervisor: Supervisor, socketPath: String, limits: Limits = Limits(), demo: Bool = false, calls: (any CallObserver)? = nil,
        simulators: SimulatedInstruments? = nil, logger: Logger = Logger(label: "labvisor.wire")
    ) {
        self.supervisor = supervisor
        self.simulators = simulators
        self.socketPath = socketPath
        self.limits = limits
        self.demo = demo
        self.calls = calls
        self.logger = logger
    }

    /// Connected clients.
    public var clientCount: Int { registry.count }

    public func run() async throws {
        let directory = (socketPath as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let registry = self.registry
        let dispatcher = RPCDispatcher(
            supervisor: supervisor, clientCount: { registry.count }, maxClients: limits.clients, demo: demo, calls: calls,
            simulators: simulators)
        let limits = self.limits
        let supervisor = self.supervisor
        let logger = self.logger
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .childChannelInitializer { channel in
                Self.peer(channel).flatMapThrowing { peer in
                    let gate = WritabilityGate(connection: peer.name)
                    let session = supervisor.connect(
                        ClientRef(id: registry.makeID(), name: peer.name, uid: peer.uid, pid: peer.pid),
                        send: { message in
                            // Completes once the bytes are in the socket: a client that does not read holds up
                            // only its own notifications, whose buffers are bounded.
                            try await channel.writeAndFlush(channel.allocator.frame(message)).get()
                        },
                        output: ChannelStreamOutput(channel: channel, gate: gate))
                    guard registry.add(session, limit: limits.clients) else {
                        let error = LabvisorError.resourceExhausted("connected clients", value: limits.clients)
                        let response = (try? WireJSON.encode(RPCResponse<Empty>(id: nil, error: error))) ?? []
                        channel.writeAndFlush(channel.allocator.frame(response)).whenComplete { _ in channel.close(promise: nil) }
                        return
                    }
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(LengthPrefixedFrameDecoder(maxFrameSize: limits.frameSize)))
                    try channel.pipeline.syncOperations.addHandler(
                        RPCConnectionHandler(
                            dispatcher: dispatcher, session: session, registry: registry, maxInFlight: limits.callsInFlight,
                            gate: gate, logger: logger))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.bind(unixDomainSocketPath: socketPath, cleanupExistingSocketFile: true).get()
        } catch {
            listening.end(.closed("the wire server on unix://\(socketPath)"))
            throw LabvisorError(
                .unavailable, "cannot listen on unix://\(socketPath): \(error)", fields: ["endpoint": .string("unix://\(socketPath)")])
        }
        defer { listening.end(.closed("the wire server on unix://\(socketPath)")) }
        chmod(socketPath, 0o660)  // the labvisor group may connect (DESIGN.md "group-accessible")
        logger.info("listening on unix://\(socketPath)")
        listening.open(channel)
        try await withTaskCancellationHandler {
            try await withGracefulShutdownHandler {
                try await channel.closeFuture.get()
            } onGracefulShutdown: {
                channel.close(promise: nil)
            }
        } onCancel: {
            channel.close(promise: nil)
        }
        unlink(socketPath)
        logger.info("stopped listening on unix://\(socketPath)")
    }

    /// Returns once the server listens (the systemd notifier's readiness, tests).
    ///
    /// - Throws: `closed` when the server has stopped or could not listen;
    ///   `CancellationError` when the waiting task is cancelled.
    public func waitUntilListening() async throws {
        _ = try await listening.wait()
    }

    /// `SO_PEERCRED`'s `struct ucred` (glibc hides it without `_GNU_SOURCE`).
    private struct PeerCredentials {
        var pid: Int32 = 0
        var uid: UInt32 = 0
        var gid: UInt32 = 0
    }

    /// The peer's name ("uid 1000 pid 4242") and, on a unix socket, its credentials.
    private static func peer(_ channel: any Channel) -> EventLoopFuture<(name: String, uid: UInt32?, pid: Int32?)> {
        let fallback = (name: channel.remoteAddress.map { "\($0)" } ?? "unknown peer", uid: UInt32?.none, pid: Int32?.none)
        guard let provider = channel as? any SocketOptionProvider else { return channel.eventLoop.makeSucceededFuture(fallback) }
        let credentials: EventLoopFuture<PeerCredentials> = provider.unsafeGetSocketOption(
            level: .socket, name: .init(rawValue: SO_PEERCRED))
        return credentials.map { (name: "uid \($0.uid) pid \($0.pid)", uid: UInt32?($0.uid), pid: Int32?($0.pid)) }
            .recover { _ in fallback }
    }
}
