/// A driver property: a value clients read (always with `observe` access) and, when
/// writable, set (with `control` access, so only the lease holder can).
public struct PropertySchema: Sendable, Hashable, Codable {
    /// The property's name (`position`).
    public var name: String
    /// One line for users.
    public var summary: String
    /// Its type, unit and range (the range applies to writes).
    public var value: ValueSchema
    /// Whether clients may set it.
    public var writable: Bool

    /// Creates a property schema.
    public init(name: String, summary: String, value: ValueSchema, writable: Bool = false) {
        self.name = name
        self.summary = summary
        self.value = value
        self.writable = writable
    }
}
