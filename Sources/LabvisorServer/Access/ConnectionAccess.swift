import Foundation

/// Who one connection is and what it may do: its identity, and the policy's grants for it,
/// computed when the identity is known (at connect on the unix socket; after the TLS
/// handshake or `session.authenticate` on TCP), so a request's check is a lookup.
/// A TCP connection is unauthenticated (every method but `session.authenticate` answers
/// `unauthenticated`) until a client certificate or a token identifies it.
public final class ConnectionAccess: Sendable {
    private struct State: Sendable {
        var identity: CallerIdentity
        var authenticated: Bool
        var grants: AccessGrants
    }

    /// The daemon's access lists.
    public let policy: AccessPolicy
    /// The tokens `session.authenticate` accepts (`nil`: none).
    public let tokens: TokenFile?
    private let state: LockedState<State>
    /// An identified connection under a policy without lists: every check passes without a lock.
    private let unrestricted: Bool
    /// Whether a client certificate can identify it (a TLS listener with a client CA).
    private let verifiesCertificates: Bool

    /// A connection whose identity is known (a unix socket peer, an insecure loopback TCP peer).
    public init(identity: CallerIdentity, policy: AccessPolicy, tokens: TokenFile? = nil) {
        self.policy = policy
        self.tokens = tokens
        state = LockedState(State(identity: identity, authenticated: true, grants: policy.grants(for: identity)))
        unrestricted = policy.isOpen
        verifiesCertificates = false
    }

    /// A TCP connection that must authenticate first: by a client certificate when
    /// `verifiesCertificates` (the listener requires and verifies them), or by a token.
    public init(unauthenticated address: String, policy: AccessPolicy, tokens: TokenFile?, verifiesCertificates: Bool) {
        self.policy = policy
        self.tokens = tokens
        self.verifiesCertificates = verifiesCertificates
        unrestricted = false
        state = LockedState(State(identity: CallerIdentity(address: address), authenticated: false, grants: .nothing))
    }

    /// Everything allowed (no access lists): in-process connections and tests.
    public static let unrestricted = ConnectionAccess(identity: CallerIdentity(), policy: AccessPolicy())

    /// The caller's identity.
    public var identity: CallerIdentity { state.withLock { $0.identity } }

    /// Whether the connection has identified itself.
    public var isAuthenticated: Bool { unrestricted || state.withLock { $0.authenticated } }

    /// Whether every check passes (no access lists, identified): callers may skip work that
    /// only a check needs.
    public var isUnrestricted: Bool { unrestricted }

    /// Records the verified client certificate's common name: the connection is authenticated.
    public func certificateVerified(commonName: String) {
        guard verifiesCertificates else { return }
        let policy = self.policy
        state.withLock { state in
            state.identity.certificate = commonName
            state.authenticated = true
            state.grants = policy.grants(for: state.identity)
        }
    }

    /// `session.authenticate`: checks `token` against the tokens file.
    ///
    /// - Throws: `unauthenticated` when the daemon has no tokens or does not know this one.
    @discardableResult
    public func authenticate(token: String) throws(LabvisorError) -> CallerIdentity {
        guard let tokens else {
            throw LabvisorError(.unauthenticated, "this listener accepts no tokens ([daemon] tokens is not set)")
        }
        guard let name = tokens.name(of: token) else {
            throw LabvisorError(.unauthenticated, "the token is not valid: it is not in the daemon's tokens file", fields: ["reason": "unknown token"])
        }
        let policy = self.policy
        return state.withLock { state in
            state.identity.token = name
            state.authenticated = true
            state.grants = policy.grants(for: state.identity)
            return state.identity
        }
    }

    /// Checks that the caller has `level` on `instrument` (`nil`: daemon-wide).
    ///
    /// - Throws: `unauthenticated` before authentication; `permissionDenied` naming the rule
    ///   (`action` says what was refused, e.g. "revoke lease L3").
    public func check(_ level: AccessLevel, instrument: String?, action: @autoclosure () -> String? = nil) throws(LabvisorError) {
        if unrestricted { return }
        let (authenticated, permitted) = state.withLock { ($0.authenticated, $0.grants.permit(level, instrument: instrument)) }
        if permitted { return }
        guard authenticated else { throw Self.unauthenticatedError }
        throw policy.denial(of: identity, level, instrument: instrument, action: action())
    }

    /// Whether the caller has `level` on `instrument` (no error, no audit: for filtering lists).
    public func permits(_ level: AccessLevel, instrument: String?) -> Bool {
        if unrestricted { return true }
        return state.withLock { $0.grants.permit(level, instrument: instrument) }
    }

    /// The current grants (for queries that must exclude instruments).
    public var grants: AccessGrants { state.withLock { $0.grants } }

    /// The error of a request before authentication.
    public static let unauthenticatedError = LabvisorError(
        .unauthenticated,
        "this TCP connection has not authenticated: send session.authenticate with a token first (or connect with a client certificate)")
}
