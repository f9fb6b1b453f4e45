/// A `udev_property = "NAME=VALUE"` condition of a match rule: the device's udev property
/// `NAME` must exist and its value match the glob `VALUE` (see `MatchPattern`).
public struct UdevPropertyMatch: Sendable, Hashable, CustomStringConvertible {
    /// The property name: ASCII letters, digits and `_`, not starting with a digit
    /// ("ID_LABVISOR_SITE").
    public let name: String
    /// The pattern its value must match.
    public let value: MatchPattern

    /// Parses `NAME=VALUE`; throws a reason when it is malformed.
    public init(_ text: String) throws(MatchPatternError) {
        guard let equals = text.firstIndex(of: "=") else {
            throw MatchPatternError(reason: "expected NAME=VALUE, found no '='")
        }
        let name = String(text[..<equals])
        guard let first = name.first, !first.isNumber,
            name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") })
        else {
            throw MatchPatternError(
                reason: "property name '\(name)' must be ASCII letters, digits and '_', not starting with a digit")
        }
        self.name = name
        do {
            self.value = try MatchPattern(String(text[text.index(after: equals)...]))
        } catch {
            throw MatchPatternError(reason: "value of \(name): \(error.reason)")
        }
    }

    /// Whether `properties` has `name` with a value matching `value`.
    public func matches(_ properties: [String: String]) -> Bool {
        guard let actual = properties[name] else { return false }
        return value.matches(actual)
    }

    public var description: String { "\(name)=\(value.text)" }
}
