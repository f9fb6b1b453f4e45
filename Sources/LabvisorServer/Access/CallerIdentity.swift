/// Who a connected client is, as access lists see it: a unix user with its groups (from
/// `SO_PEERCRED` on the unix socket), or a TCP client's token name and client certificate.
public struct CallerIdentity: Sendable, Hashable, CustomStringConvertible {
    /// The unix user's name (nil when the uid has no passwd entry).
    public var user: String?
    /// The unix user id.
    public var uid: UInt32?
    /// The names of the user's groups, primary and supplementary.
    public var groups: Set<String>
    /// The name of the token the client authenticated with.
    public var token: String?
    /// The common name of the client's verified TLS certificate.
    public var certificate: String?
    /// The TCP peer's address, for messages.
    public var address: String?

    /// Creates an identity.
    public init(
        user: String? = nil, uid: UInt32? = nil, groups: Set<String> = [], token: String? = nil, certificate: String? = nil,
        address: String? = nil
    ) {
        self.user = user
        self.uid = uid
        self.groups = groups
        self.token = token
        self.certificate = certificate
        self.address = address
    }

    /// Whether `entry` admits this caller.
    public func matches(_ entry: AccessEntry) -> Bool {
        switch entry {
        case .anyone: true
        case .user(let name): name == user || (uid != nil && name == String(uid!))
        case .group(let name): groups.contains(name)
        case .token(let name): name == token
        case .certificate(let name): name == certificate
        }
    }

    /// "user alice (uid 1000)", "token ci-runner", "certificate ci-runner", "tcp peer 127.0.0.1:5000".
    public var description: String {
        var parts: [String] = []
        if let uid { parts.append(user.map { "user \($0) (uid \(uid))" } ?? "uid \(uid)") }
        if let token { parts.append("token \(token)") }
        if let certificate { parts.append("certificate \(certificate)") }
        if parts.isEmpty { return address.map { "anonymous tcp peer \($0)" } ?? "anonymous caller" }
        return parts.joined(separator: ", ")
    }
}
