import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL

/// The wire's TCP listener: TLS (the server certificate; with a client CA, client
/// certificates are required and verified) or, on loopback with `insecure = true`, plain TCP.
/// TLS connections start unauthenticated until a client certificate or a token identifies them.
struct TCPListener: Sendable {
    let configuration: TCPListenerConfiguration
    /// The access lists and tokens in force (a reload replaces them; `configuration.tokens`
    /// is only what the daemon started with).
    let rules: AccessInForce
    let connections: ConnectionSetup
    let logger: Logger

    /// The server's TLS context from the configured files.
    ///
    /// - Throws: `invalidArgument` naming the file that cannot be used.
    static func context(_ files: TCPListenerConfiguration.TLSFiles) throws(LabvisorError) -> NIOSSLContext {
        func load<Value>(_ what: String, _ path: String, _ body: () throws -> Value) throws(LabvisorError) -> Value {
            do {
                return try body()
            } catch {
                throw LabvisorError(
                    .invalidArgument, "cannot use \(path) as the TCP listener's \(what): \(error)", fields: ["file": .string(path)])
            }
        }
        let chain = try load("certificate", files.certificate) { try NIOSSLCertificate.fromPEMFile(files.certificate) }
        let key = try load("key", files.key) { try NIOSSLPrivateKey(file: files.key, format: .pem) }
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        tls.minimumTLSVersion = .tlsv12
        if let clientCA = files.clientCA {
            let roots = try load("client CA", clientCA) { try NIOSSLCertificate.fromPEMFile(clientCA) }
            tls.trustRoots = .certificates(roots)
            // Client certificates must chain to the CA; no host name to check on a client.
            tls.certificateVerification = .noHostnameVerification
        }
        return try load("TLS configuration", files.certificate) { try NIOSSLContext(configuration: tls) }
    }

    /// Binds and returns the listening channel.
    ///
    /// - Throws: `unavailable` when the address cannot be bound; `invalidArgument` for
    ///   unusable TLS files.
    func bind() async throws -> any Channel {
        let context = try configuration.tls.map { (files) throws(LabvisorError) in try Self.context(files) }
        let rules = self.rules
        let verifies = configuration.tls?.clientCA != nil
        let connections = self.connections
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let address = channel.remoteAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "unknown"
                    let access: ConnectionAccess
                    if let context {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                        access = ConnectionAccess(unauthenticated: address, rules: rules, verifiesCertificates: verifies)
                    } else {
                        access = ConnectionAccess(identity: CallerIdentity(address: address), rules: rules, acceptsTokens: true)
                    }
                    try connections.add(channel, peer: (name: "tcp \(address)", uid: nil, pid: nil), access: access)
                }
            }
        let scheme = context == nil ? "tcp" : "tls"
        let address = configuration.address
        let channel: any Channel
        do {
            channel = try await bootstrap.bind(host: address.host, port: address.port).get()
        } catch {
            throw LabvisorError(
                .unavailable, "cannot listen on \(scheme)://\(address): \(error)", fields: ["endpoint": .string("\(scheme)://\(address)")])
        }
        let port = channel.localAddress?.port ?? address.port
        let how = context == nil ? "plain TCP, insecure: loopback only" : (configuration.tls?.clientCA != nil ? "client certificates required" : "tokens")
        logger.info("listening on \(scheme)://\(address.hostForURL):\(port) (\(how))")
        return channel
    }
}
