/// A TCP address to listen on, `HOST:PORT` in the configuration (`127.0.0.1:9464`,
/// `[::1]:9464`, `localhost:9464`; port 0 picks a free port).
public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
    /// The host name or address (IPv6 without brackets).
    public var host: String
    /// The port, 0 to 65535.
    public var port: Int

    /// Creates an address.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT` or `[IPv6]:PORT`.
    ///
    /// - Throws: `invalidArgument` naming `key` and the text when it is not such an address.
    public init(parsing text: String, key: String) throws(LabvisorError) {
        let problem = LabvisorError.invalidArgument(key, "'\(text)' is not HOST:PORT (e.g. \"127.0.0.1:9464\", \"[::1]:9464\") with a port from 0 to 65535")
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw problem
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, !host.contains(" ") else { throw problem }
        self.init(host: host, port: port)
    }

    /// The host as a URL needs it (IPv6 in brackets).
    public var hostForURL: String { host.contains(":") ? "[\(host)]" : host }

    public var description: String { "\(hostForURL):\(port)" }
}
