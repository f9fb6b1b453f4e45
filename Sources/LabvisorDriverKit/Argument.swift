/// A declared method argument, and the typed key a method body reads it with.
///
/// ```swift
/// static let position = Argument<Double>("position", "target position", unit: "mm", range: 0...50)
/// DriverMethod("moveAbsolute", "moves to a position", arguments: [position]) { stage, arguments in
///     try await stage.move(to: arguments[position])
/// }
/// ```
public struct Argument<Value: DriverValue>: Sendable {
    /// The schema clients see and calls are checked against.
    public let schema: ArgumentSchema

    /// Declares an argument.
    ///
    /// - Parameters:
    ///   - name: as callers pass it.
    ///   - summary: one line for users.
    ///   - unit: of a number.
    ///   - range: the allowed numbers (inclusive).
    ///   - default: the value when the caller passes none; without one the argument is required.
    public init(
        _ name: String, _ summary: String, unit: String? = nil, range: ClosedRange<Double>? = nil, default: Value? = nil
    ) {
        schema = ArgumentSchema(
            name: name, summary: summary,
            value: ValueSchema(
                kind: Value.valueKind, unit: unit, minimum: range?.lowerBound, maximum: range?.upperBound,
                choices: Value.choices),
            defaultValue: `default`?.json)
    }

    /// The argument's name.
    public var name: String { schema.name }
}

/// An argument of any value type, for a method's argument list.
public protocol ArgumentDeclaration: Sendable {
    /// The schema clients see and calls are checked against.
    var schema: ArgumentSchema { get }
}

extension Argument: ArgumentDeclaration {}

/// The checked arguments of one call, read by typed key: `arguments[position]`.
///
/// Only `DriverMethod` makes them, after `MethodSchema.validate(arguments:)`, so every
/// declared argument is present (given or defaulted) and of the declared type.
public struct Arguments: Sendable {
    /// The canonical values, by argument name.
    public let values: [String: JSONValue]
    /// The method they were checked for, for messages.
    public let method: String

    init(values: [String: JSONValue], method: String) {
        self.values = values
        self.method = method
    }

    /// The value of `argument`.
    ///
    /// - Throws: `driverFault` when the method does not declare `argument` (a driver bug:
    ///   the body reads an argument missing from its `arguments:` list).
    public subscript<Value>(_ argument: Argument<Value>) -> Value {
        get throws(LabvisorError) {
            guard let json = values[argument.name], let value = Value(json: json) else {
                throw LabvisorError(
                    .driverFault,
                    "driver bug: method '\(method)' reads argument '\(argument.name)', which it does not declare",
                    fields: ["method": .string(method), "argument": .string(argument.name)])
            }
            return value
        }
    }
}
