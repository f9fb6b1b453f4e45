/// One declared argument of a driver method.
public struct ArgumentSchema: Sendable, Hashable, Codable {
    /// The argument's name, as callers pass it.
    public var name: String
    /// One line for users.
    public var summary: String
    /// Its type, unit and range.
    public var value: ValueSchema
    /// The value used when the caller passes none; `nil` makes the argument required.
    public var defaultValue: JSONValue?

    /// Creates an argument schema.
    public init(name: String, summary: String, value: ValueSchema, defaultValue: JSONValue? = nil) {
        self.name = name
        self.summary = summary
        self.value = value
        self.defaultValue = defaultValue
    }

    /// Whether callers must pass it.
    public var isRequired: Bool { defaultValue == nil }

    private enum CodingKeys: String, CodingKey {
        case name, summary, value
        case defaultValue = "default"
    }
}
