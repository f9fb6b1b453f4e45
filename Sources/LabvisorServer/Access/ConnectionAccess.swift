import Foundation

/// Who one connection is and what it may do: its identity, and the grants of the access
/// lists in force for it, computed when the identity is known (at connect on the unix socket;
/// after the TLS handshake or `session.authenticate` on TCP) and again at the first check
/// after a configuration reload put a new `AccessGeneration` in force, so a request's check is
/// a lookup (plus one atomic load of the generation number).
///
/// A TCP connection is unauthenticated (every method but `session.authenticate` answers
/// `unauthenticated`) until a client certificate or a token identifies it. A token taken out
/// of the tokens file by a reload no longer identifies the connections that presented it:
/// they are anonymous again (with a client certificate, they keep its identity).
public final class ConnectionAccess: Sendable {
    private struct State: Sendable {
        var identity: CallerIdentity
        var authenticated: Bool
        var grants: AccessGrants
        /// The generation the grants were computed for.
        var generation: AccessGeneration
        /// The SHA-256 (hex) of the token the connection authenticated with: a reload finds
        /// the token's name in the new tokens file by it.
        var tokenDigest: String?
        /// A unix peer whose user and groups were not looked up (no lists when it connected).
        var accountsPending: Bool
        /// The name of the token a reload revoked, for the `unauthenticated` message.
        var revokedToken: String?
    }

    /// The access lists and tokens in force.
    public let rules: AccessInForce
    /// How many refusals the audit log recorded for this connection, and how many it left out.
    public let refusalTally = RefusalTally()
    private let state: LockedState<State>
    /// Identified when it connected (a unix socket peer, an insecure loopback TCP peer): it
    /// never has to authenticate.
    private let identifiedAtConnect: Bool
    /// A TCP connection: `session.authenticate` checks tokens.
    private let acceptsTokens: Bool
    /// Whether a client certificate can identify it (a TLS listener with a client CA).
    private let verifiesCertificates: Bool

    /// A connection whose identity is known (a unix socket peer, an insecure loopback TCP
    /// peer), checked against `rules`; `acceptsTokens` on TCP.
    public init(identity: CallerIdentity, rules: AccessInForce, acceptsTokens: Bool = false) {
        self.rules = rules
        self.acceptsTokens = acceptsTokens
        identifiedAtConnect = true
        verifiesCertificates = false
        let generation = rules.current
        state = LockedState(
            State(
                identity: identity, authenticated: true, grants: generation.policy.grants(for: identity), generation: generation,
                tokenDigest: nil, accountsPending: false, revokedToken: nil))
    }

    /// A unix socket peer by its uid (`nil`: unknown): its user and groups are looked up
    /// (`UnixAccounts`) only while some access list is in force, at connect or at the first
    /// check after a reload adds lists.
    public convenience init(unixPeer uid: UInt32?, rules: AccessInForce) {
        let lookUp = !rules.isOpen && uid != nil
        self.init(identity: lookUp ? UnixAccounts.identity(uid: uid!) : CallerIdentity(uid: uid), rules: rules)
        if !lookUp, uid != nil { state.withLock { $0.accountsPending = true } }
    }

    /// A connection whose identity is known, under a fixed `policy` and `tokens` (tests,
    /// in-process connections).
    public convenience init(identity: CallerIdentity, policy: AccessPolicy, tokens: TokenFile? = nil) {
        self.init(identity: identity, rules: AccessInForce(policy: policy, tokens: tokens), acceptsTokens: tokens != nil)
    }

    /// A TCP connection that must authenticate first: by a client certificate when
    /// `verifiesCertificates` (the listener requires and verifies them), or by a token.
    public init(unauthenticated address: String, rules: AccessInForce, verifiesCertificates: Bool) {
        self.rules = rules
        self.verifiesCertificates = verifiesCertificates
        acceptsTokens = true
        identifiedAtConnect = false
        state = LockedState(
            State(
                identity: CallerIdentity(address: address), authenticated: false, grants: .nothing, generation: rules.current,
                tokenDigest: nil, accountsPending: false, revokedToken: nil))
    }

    /// A TCP connection that must authenticate first, under a fixed `policy` and `tokens` (tests).
    public convenience init(unauthenticated address: String, policy: AccessPolicy, tokens: TokenFile?, verifiesCertificates: Bool) {
        self.init(unauthenticated: address, rules: AccessInForce(policy: policy, tokens: tokens), verifiesCertificates: verifiesCertificates)
    }

    /// Everything allowed (no access lists): in-process connections and tests.
    public static let unrestricted = ConnectionAccess(identity: CallerIdentity(), policy: AccessPolicy())

    /// The caller's identity.
    public var identity: CallerIdentity { current { $0.identity } }

    /// Whether the connection has identified itself.
    public var isAuthenticated: Bool { isUnrestricted || current { $0.authenticated } }

    /// Whether every check passes (identified at connect, no access lists in force): callers
    /// may skip work that only a check needs. No lock: one atomic load.
    public var isUnrestricted: Bool { identifiedAtConnect && rules.isOpen }

    /// The tokens `session.authenticate` checks (`nil`: none, e.g. on the unix socket).
    public var tokens: TokenFile? { acceptsTokens ? rules.current.tokens : nil }

    /// Records the verified client certificate's common name: the connection is authenticated.
    public func certificateVerified(commonName: String) {
        guard verifiesCertificates else { return }
        current { state in
            state.identity.certificate = commonName
            state.authenticated = true
            state.grants = state.generation.policy.grants(for: state.identity)
        }
    }

    /// `session.authenticate`: checks `token` against the tokens file in force.
    ///
    /// - Throws: `unauthenticated` when the daemon has no tokens or does not know this one.
    @discardableResult
    public func authenticate(token: String) throws(LabvisorError) -> CallerIdentity {
        guard acceptsTokens else {
            throw LabvisorError(.unauthenticated, "this listener accepts no tokens ([daemon] tokens is not set)")
        }
        let digest = SHA256Digest.hex(token)
        return try current { (state) throws(LabvisorError) in
            guard let tokens = state.generation.tokens else {
                throw LabvisorError(.unauthenticated, "this listener accepts no tokens ([daemon] tokens is not set)")
            }
            guard let name = tokens.names[digest] else {
                throw LabvisorError(
                    .unauthenticated, "the token is not valid: it is not in the daemon's tokens file", fields: ["reason": "unknown token"])
            }
            state.identity.token = name
            state.tokenDigest = digest
            state.revokedToken = nil
            state.authenticated = true
            state.grants = state.generation.policy.grants(for: state.identity)
            return state.identity
        }
    }

    /// Checks that the caller has `level` on `instrument` (`nil`: daemon-wide).
    ///
    /// - Throws: `unauthenticated` before authentication; `permissionDenied` naming the rule
    ///   (`action` says what was refused, e.g. "revoke lease L3").
    public func check(_ level: AccessLevel, instrument: String?, action: @autoclosure () -> String? = nil) throws(LabvisorError) {
        if isUnrestricted { return }
        let (authenticated, permitted) = current { ($0.authenticated, $0.grants.permit(level, instrument: instrument)) }
        if permitted { return }
        guard authenticated else { throw unauthenticatedError }
        let (identity, policy) = current { ($0.identity, $0.generation.policy) }
        throw policy.denial(of: identity, level, instrument: instrument, action: action())
    }

    /// Whether the caller has `level` on `instrument` (no error, no audit: for filtering lists).
    public func permits(_ level: AccessLevel, instrument: String?) -> Bool {
        if isUnrestricted { return true }
        return current { $0.grants.permit(level, instrument: instrument) }
    }

    /// The current grants (for queries that must exclude instruments).
    public var grants: AccessGrants { isUnrestricted ? .everything : current { $0.grants } }

    /// The error of a request before authentication: it says when a reload revoked the
    /// connection's token.
    public var unauthenticatedError: LabvisorError {
        guard let revoked = current({ $0.revokedToken }) else { return Self.unauthenticatedError }
        return LabvisorError(
            .unauthenticated,
            "token \(revoked), which this connection authenticated with, is no longer in the daemon's tokens file (configuration reload): send session.authenticate with a valid token",
            fields: ["reason": "token revoked", "token": .string(revoked)])
    }

    /// The error of a request before authentication.
    public static let unauthenticatedError = LabvisorError(
        .unauthenticated,
        "this TCP connection has not authenticated: send session.authenticate with a token first (or connect with a client certificate)")

    /// Runs `body` on the state, brought up to the generation in force first.
    private func current<Result, Failure: Error>(_ body: (inout State) throws(Failure) -> Result) throws(Failure) -> Result {
        let number = rules.number
        return try state.withLock { (state) throws(Failure) in
            if state.generation.number != number { regrant(&state) }
            return try body(&state)
        }
    }

    /// Recomputes the grants under the generation in force (a reload replaced the lists or
    /// the tokens): a token no longer in the tokens file no longer identifies the connection.
    private func regrant(_ state: inout State) {
        let generation = rules.current
        state.generation = generation
        if state.accountsPending, !generation.policy.isOpen, let uid = state.identity.uid {
            let accounts = UnixAccounts.identity(uid: uid)
            state.identity.user = accounts.user
            state.identity.groups = accounts.groups
            state.accountsPending = false
        }
        if let digest = state.tokenDigest {
            let name = generation.tokens?.names[digest]
            if let name {
                state.identity.token = name
            } else {
                state.revokedToken = state.identity.token
                state.identity.token = nil
                state.tokenDigest = nil
                if !identifiedAtConnect && state.identity.certificate == nil { state.authenticated = false }
            }
        }
        state.grants = state.authenticated ? generation.policy.grants(for: state.identity) : .nothing
    }
}
