/// One generation of the daemon's access configuration: the access lists and the tokens file
/// as one configuration (at start, or a reload) gave them. Immutable: a reload makes a new
/// generation (`AccessInForce.replace`), and connections recompute their grants when they
/// see its number change.
public struct AccessGeneration: Sendable {
    /// Counts up from 1 with every reload that applies.
    public var number: UInt64
    /// The access lists.
    public var policy: AccessPolicy
    /// The tokens `session.authenticate` accepts on the TCP listener (`nil`: none).
    public var tokens: TokenFile?

    /// Creates a generation.
    public init(number: UInt64 = 1, policy: AccessPolicy, tokens: TokenFile? = nil) {
        self.number = number
        self.policy = policy
        self.tokens = tokens
    }
}
