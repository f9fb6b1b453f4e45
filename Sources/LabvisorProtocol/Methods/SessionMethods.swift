/// `session.authenticate`: identifies a TCP connection by a bearer token.
public enum AuthenticateSession: WireMethod {
    /// Parameters.
    public struct Params: Codable, Sendable, Hashable {
        /// The bearer token (the daemon's tokens file holds its SHA-256, under a name).
        public var token: String
        /// Creates parameters.
        public init(token: String) { self.token = token }
    }
    /// Result.
    public struct Result: Codable, Sendable, Hashable {
        /// Who the connection now is, as access lists and the audit log name it
        /// ("token ci-runner", "certificate lab-pc-3, token ci-runner").
        public var identity: String
        /// Creates a result.
        public init(identity: String) { self.identity = identity }
    }
    public static let name = "session.authenticate"
    public static let summary = """
        Identifies this connection by a bearer token (the first request on a TCP connection; \
        unix socket peers are identified by their uid and need not send it). Until a TCP \
        connection has authenticated, by this or by a verified client certificate, every \
        other method answers `unauthenticated`. The token's name is what access lists call \
        `token:NAME`. A wrong token answers `unauthenticated` and is recorded in the audit log. \
        When a configuration reload takes the token out of the tokens file, the connection is \
        anonymous again from its next request (answered `unauthenticated`, saying so).
        """
    public static let errors: [ErrorCode] = [.unauthenticated]
    public static let exampleParams = Params(token: "hV3k...")
    public static let exampleResult = Result(identity: "token ci-runner")
}
