/// Who may call a method or set a property (DESIGN.md "Access").
public enum Access: String, Sendable, Hashable, Codable, CustomStringConvertible {
    /// Allowed without the lease: status, position, identity.
    case observe
    /// Needs the caller's lease on the instrument.
    case control

    public var description: String { rawValue }
}
