/// The type of a method argument, a result or a property, as clients see it.
public enum ValueKind: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    /// A floating-point number (an integer is accepted and widened).
    case double
    /// A whole number (a number with a fractional part is rejected).
    case int
    /// `true` or `false`.
    case bool
    /// Text; with `choices`, one of a fixed set.
    case string
    /// A JSON object (structured status, identification).
    case object
    /// A JSON array.
    case array
    /// Any JSON value.
    case any

    public var description: String { rawValue }
}
