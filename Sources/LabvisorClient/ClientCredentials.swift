import Foundation
import LabvisorProtocol
import NIOSSL

/// How a client proves who it is to a daemon's TCP listener, and which servers it trusts:
/// a bearer token (sent as `session.authenticate`), the CA that signed the daemon's
/// certificate, and a client certificate for a listener that requires one.
public struct ClientCredentials: Sendable, Hashable {
    /// The bearer token (`LABVISOR_TOKEN`, `--token`).
    public var token: String?
    /// The CA certificate (PEM) the daemon's certificate must chain to (`LABVISOR_CA`,
    /// `--ca`); `nil`: the system's trust roots.
    public var caFile: String?
    /// The client certificate (PEM) (`LABVISOR_CERT`, `--cert`).
    public var certificateFile: String?
    /// The client certificate's private key (PEM) (`LABVISOR_KEY`, `--key`).
    public var keyFile: String?

    /// Creates credentials.
    public init(token: String? = nil, caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil) {
        self.token = token
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
    }

    /// From `LABVISOR_TOKEN`, `LABVISOR_CA`, `LABVISOR_CERT` and `LABVISOR_KEY`.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> ClientCredentials {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        return ClientCredentials(
            token: value("LABVISOR_TOKEN"), caFile: value("LABVISOR_CA"), certificateFile: value("LABVISOR_CERT"),
            keyFile: value("LABVISOR_KEY"))
    }

    /// The TLS context for a `tls://` endpoint.
    ///
    /// - Throws: `invalidArgument` naming the file that cannot be used.
    func tlsContext() throws(LabvisorError) -> NIOSSLContext {
        func load<Value>(_ what: String, _ path: String, _ body: () throws -> Value) throws(LabvisorError) -> Value {
            do {
                return try body()
            } catch {
                throw LabvisorError(.invalidArgument, "cannot use \(path) as the \(what): \(error)", fields: ["file": .string(path)])
            }
        }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        if let caFile {
            tls.trustRoots = .certificates(try load("CA certificate", caFile) { try NIOSSLCertificate.fromPEMFile(caFile) })
        }
        switch (certificateFile, keyFile) {
        case (let certificate?, let key?):
            tls.certificateChain = try load("client certificate", certificate) { try NIOSSLCertificate.fromPEMFile(certificate) }
                .map { .certificate($0) }
            tls.privateKey = .privateKey(try load("client key", key) { try NIOSSLPrivateKey(file: key, format: .pem) })
        case (nil, nil): break
        default:
            throw LabvisorError.invalidArgument("cert", "give a client certificate and its key together (--cert and --key, LABVISOR_CERT and LABVISOR_KEY)")
        }
        return try load("TLS configuration", caFile ?? "the system trust roots") { try NIOSSLContext(configuration: tls) }
    }
}
