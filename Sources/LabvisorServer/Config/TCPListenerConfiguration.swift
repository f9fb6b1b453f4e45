import Foundation
import LabvisorHardware

/// The opt-in TCP listener of the wire (`[daemon] tcp`, `tokens`, `insecure`, `[daemon.tls]`):
/// TLS with a server certificate, clients identified by a verified client certificate
/// (`client_ca`) and/or a bearer token from the tokens file; plain TCP only on a loopback
/// address with `insecure = true`.
public struct TCPListenerConfiguration: Sendable, Hashable {
    /// The TLS files (`[daemon.tls]`).
    public struct TLSFiles: Sendable, Hashable {
        /// The server's certificate chain (PEM).
        public var certificate: String
        /// The server's private key (PEM).
        public var key: String
        /// The CA (PEM) that client certificates must chain to; set, every client must
        /// present one (its common name is the identity `cert:NAME`).
        public var clientCA: String?

        /// Creates the file set.
        public init(certificate: String, key: String, clientCA: String? = nil) {
            self.certificate = certificate
            self.key = key
            self.clientCA = clientCA
        }
    }

    /// Where it listens.
    public var address: ListenAddress
    /// TLS; `nil` only when `insecure`.
    public var tls: TLSFiles?
    /// The tokens `session.authenticate` accepts.
    public var tokens: TokenFile?
    /// Plain TCP on a loopback address, clients admitted without authentication.
    public var insecure: Bool

    /// Creates a listener configuration (unchecked: `DaemonConfiguration.parse` checks the
    /// file's).
    public init(address: ListenAddress, tls: TLSFiles? = nil, tokens: TokenFile? = nil, insecure: Bool = false) {
        self.address = address
        self.tls = tls
        self.tokens = tokens
        self.insecure = insecure
    }

    /// Whether `host` is a loopback address or name.
    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// Reads the listener's keys of `[daemon]`; `nil` when `tcp` is absent (and then no other
    /// listener key may be given). Relative paths are taken from `base`.
    ///
    /// - Throws: `invalidArgument` naming the key: no way to authenticate, `insecure` off
    ///   loopback, missing files, a malformed tokens file.
    static func read(_ daemon: inout TOMLSection, base: String) throws(LabvisorError) -> TCPListenerConfiguration? {
        func path(_ text: String) -> String {
            text.hasPrefix("/") ? text : ((base as NSString).appendingPathComponent(text) as NSString).standardizingPath
        }
        let tcp = try daemon.string("tcp")
        let tokensPath = try daemon.string("tokens").map(path)
        let insecure = try daemon.bool("insecure") ?? false
        var tls: TLSFiles?
        if var section = try daemon.section("tls") {
            let certificate = try section.string("certificate", required: true).map(path)!
            let key = try section.string("key", required: true).map(path)!
            let clientCA = try section.string("client_ca").map(path)
            let files: [(key: String, file: String?)] = [("certificate", certificate), ("key", key), ("client_ca", clientCA)]
            for (name, file) in files {
                if let file, !FileManager.default.isReadableFile(atPath: file) { throw section.error(name, "cannot read \(file)") }
            }
            try section.rejectUnknownKeys()
            tls = TLSFiles(certificate: certificate, key: key, clientCA: clientCA)
        }
        guard let tcp else {
            if tls != nil { throw daemon.error("tls", "[daemon.tls] needs tcp = \"HOST:PORT\" (the TCP listener is off without it)") }
            if tokensPath != nil { throw daemon.error("tokens", "tokens need tcp = \"HOST:PORT\" (unix socket peers are identified by uid)") }
            if insecure { throw daemon.error("insecure", "insecure needs tcp = \"HOST:PORT\"") }
            return nil
        }
        let address: ListenAddress
        do {
            address = try ListenAddress(parsing: tcp, key: "daemon.tcp")
        } catch {
            throw daemon.error("tcp", "'\(tcp)' is not HOST:PORT (e.g. \"0.0.0.0:7420\", \"[::1]:7420\") with a port from 0 to 65535")
        }
        if insecure {
            guard isLoopback(address.host) else {
                throw daemon.error(
                    "insecure",
                    "insecure = true (plain TCP, no authentication) is allowed only on a loopback address (127.0.0.1, ::1, localhost), not on '\(address.host)': configure [daemon.tls] instead")
            }
            if tls != nil { throw daemon.error("insecure", "give [daemon.tls] or insecure = true, not both") }
        } else {
            guard let tls else {
                throw daemon.error(
                    "tcp", "a TCP listener needs TLS ([daemon.tls] certificate and key), or insecure = true on a loopback address")
            }
            guard tokensPath != nil || tls.clientCA != nil else {
                throw daemon.error(
                    "tcp", "a TLS listener needs a way to identify clients: tokens = \"PATH\" (bearer tokens) and/or [daemon.tls] client_ca (client certificates)")
            }
        }
        var tokens: TokenFile?
        if let tokensPath {
            do {
                tokens = try TokenFile.load(tokensPath)
            } catch let error where error.code == .notFound {
                throw daemon.error("tokens", "cannot read \(tokensPath)")
            }
        }
        return TCPListenerConfiguration(address: address, tls: tls, tokens: tokens, insecure: insecure)
    }
}
