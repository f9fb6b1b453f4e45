import Synchronization

/// The access lists and tokens in force, shared by every connection and replaced by a
/// configuration reload (`ConfigurationReload`).
///
/// A request's check must stay a lookup, so the generation's number and whether its policy is
/// open are also kept in one atomic word: a connection loads it (no lock) and takes the
/// generation itself (under this lock) only when the number differs from the one its grants
/// were computed for, which happens once per connection after a reload.
public final class AccessInForce: Sendable {
    private let generation: LockedState<AccessGeneration>
    /// `number << 1 | isOpen`, stored after the generation it describes (release), loaded by
    /// checks (acquire): whoever sees a number finds at least that generation under the lock.
    private let word: Atomic<UInt64>

    /// The configuration's policy and tokens as generation 1.
    public init(policy: AccessPolicy = AccessPolicy(), tokens: TokenFile? = nil) {
        let first = AccessGeneration(number: 1, policy: policy, tokens: tokens)
        generation = LockedState(first)
        word = Atomic(Self.word(first))
    }

    /// The generation in force.
    public var current: AccessGeneration { generation.withLock { $0 } }

    /// The number of the generation in force (no lock).
    public var number: UInt64 { word.load(ordering: .acquiring) >> 1 }

    /// Whether the policy in force has no access list (no lock).
    public var isOpen: Bool { word.load(ordering: .acquiring) & 1 == 1 }

    /// Puts `policy` and `tokens` in force as the next generation and returns it. Connections
    /// recompute their grants at their next check.
    @discardableResult
    public func replace(policy: AccessPolicy, tokens: TokenFile?) -> AccessGeneration {
        let next = generation.withLock { generation in
            generation = AccessGeneration(number: generation.number + 1, policy: policy, tokens: tokens)
            // Inside the lock: two replacements publish their words in their own order.
            word.store(Self.word(generation), ordering: .releasing)
            return generation
        }
        return next
    }

    private static func word(_ generation: AccessGeneration) -> UInt64 {
        generation.number << 1 | (generation.policy.isOpen ? 1 : 0)
    }
}
