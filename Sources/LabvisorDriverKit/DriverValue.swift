/// A Swift type that travels as a driver argument, result or property value.
///
/// `Double`, `Int`, `Bool`, `String` and `JSONValue` conform; so does any `String`-backed
/// enum that declares conformance (`enum Mode: String, CaseIterable, DriverValue`), whose
/// cases become the argument's `choices`.
public protocol DriverValue: Sendable {
    /// The kind clients see.
    static var valueKind: ValueKind { get }
    /// The allowed strings, for enumerations.
    static var choices: [String]? { get }
    /// Reads a value that `ValueSchema.validate` has accepted.
    init?(json: JSONValue)
    /// The value as JSON.
    var json: JSONValue { get }
}

extension DriverValue {
    public static var choices: [String]? { nil }
}

extension Double: DriverValue {
    public static var valueKind: ValueKind { .double }
    public init?(json: JSONValue) {
        guard let number = json.number else { return nil }
        self = number
    }
    public var json: JSONValue { .double(self) }
}

extension Int: DriverValue {
    public static var valueKind: ValueKind { .int }
    public init?(json: JSONValue) {
        guard case .int(let number) = json else { return nil }
        self = number
    }
    public var json: JSONValue { .int(self) }
}

extension Bool: DriverValue {
    public static var valueKind: ValueKind { .bool }
    public init?(json: JSONValue) {
        guard let value = json.bool else { return nil }
        self = value
    }
    public var json: JSONValue { .bool(self) }
}

extension String: DriverValue {
    public static var valueKind: ValueKind { .string }
    public init?(json: JSONValue) {
        guard let value = json.string else { return nil }
        self = value
    }
    public var json: JSONValue { .string(self) }
}

extension JSONValue: DriverValue {
    public static var valueKind: ValueKind { .any }
    public init?(json: JSONValue) { self = json }
    public var json: JSONValue { self }
}

extension DriverValue where Self: RawRepresentable, Self.RawValue == String, Self: CaseIterable {
    public static var valueKind: ValueKind { .string }
    public static var choices: [String]? { allCases.map(\.rawValue) }
    public init?(json: JSONValue) {
        guard let text = json.string else { return nil }
        self.init(rawValue: text)
    }
    public var json: JSONValue { .string(rawValue) }
}
