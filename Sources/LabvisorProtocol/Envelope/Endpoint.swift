import Foundation

/// Where the daemon listens and clients connect: one rule shared by `labvisord`, the CLI and
/// the clients, so a local daemon needs no flags.
///
/// `LABVISOR_URL` wins (`unix:///path/to.sock`, `tls://host:port`, or `tcp://host:port` for a
/// plain loopback listener); else the unix socket
/// `$LABVISOR_RUNTIME_DIR/labvisord.sock`, else `$XDG_RUNTIME_DIR/labvisor/labvisord.sock` for
/// a user with a runtime directory, else `/run/labvisor/labvisord.sock` (the systemd service).
public enum Endpoint: Sendable, Hashable, CustomStringConvertible {
    /// A unix socket path.
    case unix(String)
    /// A TCP host and port, plain (the daemon allows it only on loopback, `insecure = true`).
    case tcp(host: String, port: Int)
    /// A TCP host and port with TLS.
    case tls(host: String, port: Int)

    /// The endpoint from the environment, by the rule above.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws(LabvisorError) -> Endpoint {
        if let url = environment["LABVISOR_URL"], !url.isEmpty { return try parse(url) }
        return .unix(defaultSocketPath(environment))
    }

    /// The default unix socket path (see the type's documentation).
    public static func defaultSocketPath(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let directory = environment["LABVISOR_RUNTIME_DIR"], !directory.isEmpty { return directory + "/labvisord.sock" }
        if getuid() != 0, let directory = environment["XDG_RUNTIME_DIR"], !directory.isEmpty {
            return directory + "/labvisor/labvisord.sock"
        }
        return "/run/labvisor/labvisord.sock"
    }

    /// Parses `unix:///path`, `unix:path`, `tls://host:port` or `tcp://host:port`.
    ///
    /// - Throws: `invalidArgument` naming `url` and what is wrong.
    public static func parse(_ url: String) throws(LabvisorError) -> Endpoint {
        if url.hasPrefix("unix://") {
            let path = String(url.dropFirst("unix://".count))
            guard path.hasPrefix("/") else { throw LabvisorError.invalidArgument("url", "'\(url)': a unix socket path must be absolute (unix:///run/...)") }
            return .unix(path)
        }
        if url.hasPrefix("unix:") { return .unix(String(url.dropFirst("unix:".count))) }
        for scheme in ["tcp://", "tls://"] where url.hasPrefix(scheme) {
            let rest = url.dropFirst(scheme.count)
            guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]), (1...65535).contains(port) else {
                throw LabvisorError.invalidArgument("url", "'\(url)': expected \(scheme)HOST:PORT with a port from 1 to 65535")
            }
            var host = String(rest[..<colon])
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard !host.isEmpty else { throw LabvisorError.invalidArgument("url", "'\(url)': no host") }
            return scheme == "tls://" ? .tls(host: host, port: port) : .tcp(host: host, port: port)
        }
        if url.hasPrefix("/") { return .unix(url) }
        throw LabvisorError.invalidArgument("url", "'\(url)': expected unix:///PATH, tls://HOST:PORT or tcp://HOST:PORT")
    }

    public var description: String {
        switch self {
        case .unix(let path): "unix://\(path)"
        case .tcp(let host, let port): "tcp://\(host.contains(":") ? "[\(host)]" : host):\(port)"
        case .tls(let host, let port): "tls://\(host.contains(":") ? "[\(host)]" : host):\(port)"
        }
    }
}
