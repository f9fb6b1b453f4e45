/// One open of a `SharedSession`, to be closed exactly once. It names its holder so that an
/// unbalanced close or a use after close can say whose it was.
public struct SessionReference: Hashable, Sendable, CustomStringConvertible {
    /// Unique within its session.
    public let id: UInt64
    /// Who opened it ("client 7 (uid 1000 pid 4242)", "daemon").
    public let holder: String

    public var description: String { "reference #\(id) of \(holder)" }
}
