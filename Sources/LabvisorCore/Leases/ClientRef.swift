/// A connected client as the core sees it: a number unique for the daemon's life and a
/// name that says who it is ("uid 1000 pid 4242", "token lab-pc-3 from 10.0.0.7").
public struct ClientRef: Sendable, Hashable, CustomStringConvertible {
    /// Unique for the daemon's life.
    public let id: UInt64
    /// Who it is, for messages and records.
    public let name: String
    /// The peer's user id, when the transport knows it (`SO_PEERCRED` on the unix socket).
    public let uid: UInt32?
    /// The peer's process id, when the transport knows it.
    public let pid: Int32?

    /// Creates a client reference.
    public init(id: UInt64, name: String, uid: UInt32? = nil, pid: Int32? = nil) {
        self.id = id
        self.name = name
        self.uid = uid
        self.pid = pid
    }

    public var description: String { "client \(id) (\(name))" }
}
