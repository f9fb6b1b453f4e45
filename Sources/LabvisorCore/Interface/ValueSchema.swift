/// What a value may be: its kind, its unit, and its allowed range or choices.
///
/// `validate(_:as:)` is the one place where arguments and property values are checked,
/// before a driver sees them; its errors are `invalidArgument` naming the argument.
public struct ValueSchema: Sendable, Hashable, Codable {
    /// The value's type.
    public var kind: ValueKind
    /// The unit of a number ("mm", "W", "ms"), shown to users; `nil` when it has none.
    public var unit: String?
    /// The smallest allowed number (inclusive).
    public var minimum: Double?
    /// The largest allowed number (inclusive).
    public var maximum: Double?
    /// The allowed strings, when the value is one of a fixed set.
    public var choices: [String]?

    /// Creates a schema.
    public init(
        kind: ValueKind, unit: String? = nil, minimum: Double? = nil, maximum: Double? = nil, choices: [String]? = nil
    ) {
        self.kind = kind
        self.unit = unit
        self.minimum = minimum
        self.maximum = maximum
        self.choices = choices
    }

    /// Checks `value` and returns it in canonical form (an integer given for a `double`
    /// becomes a double).
    ///
    /// - Parameter name: the argument or property, for the error.
    /// - Throws: `invalidArgument` naming `name`, saying what was expected and what came.
    public func validate(_ value: JSONValue, as name: String) throws(LabvisorError) -> JSONValue {
        let checked: JSONValue
        switch (kind, value) {
        case (.any, _):
            return value
        case (.double, .int(let number)):
            checked = .double(Double(number))
        case (.double, .double(let number)) where number.isFinite:
            checked = value
        case (.int, .int):
            checked = value
        case (.int, .double(let number)) where number.isFinite && number.rounded() == number && abs(number) < 9e15:
            checked = .int(Int(number))
        case (.bool, .bool), (.string, .string), (.object, .object), (.array, .array):
            checked = value
        default:
            throw mismatch(name, value)
        }
        if let number = checked.number {
            if let minimum, number < minimum { throw outOfRange(name, number) }
            if let maximum, number > maximum { throw outOfRange(name, number) }
        }
        if let choices, let text = checked.string, !choices.contains(text) {
            var error = LabvisorError.invalidArgument(
                name, "must be one of \(choices.map { "'\($0)'" }.joined(separator: ", ")), got '\(text)'")
            error.fields["choices"] = .array(choices.map { .string($0) })
            throw error
        }
        return checked
    }

    /// A readable form: "double in mm, 0...50".
    public var summary: String {
        var text = kind.rawValue
        if let unit { text += " in \(unit)" }
        if minimum != nil || maximum != nil { text += ", \(rangeText)" }
        if let choices { text += ", one of \(choices.joined(separator: "|"))" }
        return text
    }

    private var rangeText: String {
        "\(minimum.map(Self.format) ?? "-inf")...\(maximum.map(Self.format) ?? "inf")"
    }

    private static func format(_ number: Double) -> String {
        number.rounded() == number && abs(number) < 1e15 ? String(Int(number)) : String(number)
    }

    private func mismatch(_ name: String, _ value: JSONValue) -> LabvisorError {
        let expected = switch kind {
        case .double: "a number"
        case .int: "a whole number"
        case .bool: "true or false"
        case .string: "a string"
        case .object: "an object"
        case .array: "an array"
        case .any: "any value"
        }
        var error = LabvisorError.invalidArgument(name, "must be \(expected), got \(value.typeName) \(value)")
        error.fields["expected"] = .string(kind.rawValue)
        error.fields["got"] = .string(value.typeName)
        return error
    }

    private func outOfRange(_ name: String, _ number: Double) -> LabvisorError {
        let unitText = unit.map { " \($0)" } ?? ""
        var error = LabvisorError.invalidArgument(
            name, "\(Self.format(number))\(unitText) is out of range \(rangeText)\(unitText)")
        if let minimum { error.fields["minimum"] = .double(minimum) }
        if let maximum { error.fields["maximum"] = .double(maximum) }
        error.fields["value"] = .double(number)
        return error
    }
}
