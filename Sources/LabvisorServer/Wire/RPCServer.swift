import Foundation
import LabvisorProtocol
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle

/// The wire server: JSON-RPC 2.0 over length-prefixed frames on a unix socket and, opt-in, a
/// TCP port (TLS, or plain on loopback), served by SwiftNIO. Every connection gets its
/// `ConnectionAccess`: the peer's uid on the unix socket, a client certificate or token on TCP. A `Service`: `run()` listens until graceful shutdown or
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
    /// The access lists and tokens every connection is checked against (a configuration
    /// reload replaces them).
    public let access: AccessInForce
    /// The TCP listener, when configured.
    public let tcp: TCPListenerConfiguration?

    /// Creates a server for `supervisor` on the unix socket `socketPath` (and on `tcp` when
    /// given); `calls` (the metrics) is told about every instrument call; `simulators` answer
    /// `simulator.unplug` and `simulator.replug`; `access` says who may do what (the TCP
    /// listener's tokens are `access`'s, not `tcp.tokens`).
    public init(
        supervisor: Supervisor, socketPath: String, limits: Limits = Limits(), demo: Bool = false, calls: (any CallObserver)? = nil,
        simulators: SimulatedInstruments? = nil, access: AccessInForce = AccessInForce(), tcp: TCPListenerConfiguration? = nil,
        logger: Logger = Logger(label: "labvisor.wire")
    ) {
        self.access = access
        self.tcp = tcp
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
        let connections = ConnectionSetup(
            supervisor: supervisor, registry: registry, dispatcher: dispatcher, limits: limits, logger: logger)
        let rules = access
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .childChannelInitializer { channel in
                Self.peer(channel).flatMapThrowing { peer in
                    // Users and groups are looked up only when some access list needs them.
                    try connections.add(channel, peer: peer, access: ConnectionAccess(unixPeer: peer.uid, rules: rules))
                }
            }
        // TCP first: once the unix socket answers (what readiness and tests wait for), both listen.
        let tcpChannel: (any Channel)?
        do {
            if let tcp {
                tcpChannel = try await TCPListener(configuration: tcp, rules: rules, connections: connections, logger: logger).bind()
            } else {
                tcpChannel = nil
            }
        } catch {
            listening.end(.closed("the wire server on unix://\(socketPath)"))
            throw error
        }
        let channel: any Channel
        do {
            channel = try await bootstrap.bind(unixDomainSocketPath: socketPath, cleanupExistingSocketFile: true).get()
        } catch {
            tcpChannel?.close(promise: nil)
            listening.end(.closed("the wire server on unix://\(socketPath)"))
            throw LabvisorError(
                .unavailable, "cannot listen on unix://\(socketPath): \(error)", fields: ["endpoint": .string("unix://\(socketPath)")])
        }
        defer { listening.end(.closed("the wire server on unix://\(socketPath)")) }
        Self.restrictSocket(socketPath, logger: logger)
        logger.info("listening on unix://\(socketPath)")
        listening.open(channel)
        try await withTaskCancellationHandler {
            try await withGracefulShutdownHandler {
                try await channel.closeFuture.get()
                try await tcpChannel?.closeFuture.get()
            } onGracefulShutdown: {
                channel.close(promise: nil)
                tcpChannel?.close(promise: nil)
            }
        } onCancel: {
            channel.close(promise: nil)
            tcpChannel?.close(promise: nil)
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

    /// Mode 0660 and, when the group exists, group `labvisor`: its members may connect
    /// (DESIGN.md "group-accessible"). Without the group the socket keeps the daemon's group.
    private static func restrictSocket(_ path: String, logger: Logger) {
        chmod(path, 0o660)
        guard let group = UnixAccounts.groupID("labvisor") else {
            logger.debug("no group labvisor: unix://\(path) keeps the daemon's group")
            return
        }
        if chown(path, uid_t.max, group) != 0 {
            logger.warning("cannot give unix://\(path) to group labvisor: \(String(cString: strerror(errno)))")
        }
    }

    /// `SO_PEERCRED`'s `struct ucred` (glibc hides it without `_GNU_SOURCE`).
    private struct PeerCredentials {
        var pid: Int32 = 0
        var uid: UInt32 = 0
        var gid: UInt32 = 0
    }

    /// The peer's name ("uid 1000 pid 4242") and, on a unix socket, its credentials.
    static func peer(_ channel: any Channel) -> EventLoopFuture<(name: String, uid: UInt32?, pid: Int32?)> {
        let fallback = (name: channel.remoteAddress.map { "\($0)" } ?? "unknown peer", uid: UInt32?.none, pid: Int32?.none)
        guard let provider = channel as? any SocketOptionProvider else { return channel.eventLoop.makeSucceededFuture(fallback) }
        let credentials: EventLoopFuture<PeerCredentials> = provider.unsafeGetSocketOption(
            level: .socket, name: .init(rawValue: SO_PEERCRED))
        return credentials.map { (name: "uid \($0.uid) pid \($0.pid)", uid: UInt32?($0.uid), pid: Int32?($0.pid)) }
            .recover { _ in fallback }
    }
}
