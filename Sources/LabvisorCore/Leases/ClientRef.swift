/// A connected client as the core sees it: a number unique for the daemon's life and a
/// name that says who it is ("uid 1000 pid 4242", "token lab-pc-3 from 10.0.0.7").
public struct ClientRef: Sendable, Hashable, CustomStringConvertible {
    /// Unique for the daemon's life.
    public let id: UInt64
    /// Who it is, for messages and records.
    public let name: String

    /// Creates a client reference.
    public init(id: UInt64, name: String) {
        self.id = id
        self.name = name
    }

    public var description: String { "client \(id) (\(name))" }
}
