/// A method a driver declares: its schema, and the typed body that runs it.
///
/// ```swift
/// DriverMethod("home", "moves to the home position and zeroes it") { stage, _ in try await stage.home() }
/// DriverMethod("moveAbsolute", "moves to a position", arguments: [position]) { stage, arguments in
///     try await stage.move(to: arguments[position])
/// }
/// ```
public struct DriverMethod<Driver: InstrumentDriver>: Sendable {
    /// What clients see, and what calls are checked against.
    public let schema: MethodSchema
    private let body: @Sendable (Driver, Arguments) async throws -> JSONValue

    /// Declares a method that returns nothing.
    ///
    /// - Parameters:
    ///   - name: as callers name it.
    ///   - summary: one line for users.
    ///   - access: `control` (needs the lease, the default) or `observe`.
    ///   - immediate: jumps the queue and interrupts the call in progress (stop, abort).
    ///   - arguments: the declared arguments, read in `body` by their keys.
    ///   - body: runs the call on the driver.
    public init(
        _ name: String, _ summary: String, access: Access = .control, immediate: Bool = false,
        arguments: [any ArgumentDeclaration] = [],
        body: @escaping @Sendable (Driver, Arguments) async throws -> Void
    ) {
        schema = MethodSchema(
            name: name, summary: summary, arguments: arguments.map(\.schema), result: nil, access: access,
            immediate: immediate)
        self.body = { driver, arguments in
            try await body(driver, arguments)
            return .null
        }
    }

    /// Declares a method that returns a value.
    ///
    /// - Parameters: as the other initializer, and
    ///   - unit: the unit of a numeric result.
    public init<Result: DriverValue>(
        _ name: String, _ summary: String, access: Access = .control, immediate: Bool = false,
        arguments: [any ArgumentDeclaration] = [], unit: String? = nil,
        body: @escaping @Sendable (Driver, Arguments) async throws -> Result
    ) {
        schema = MethodSchema(
            name: name, summary: summary, arguments: arguments.map(\.schema),
            result: ValueSchema(kind: Result.valueKind, unit: unit, choices: Result.choices), access: access,
            immediate: immediate)
        self.body = { driver, arguments in try await body(driver, arguments).json }
    }

    /// Checks `arguments` against the schema and runs the method.
    ///
    /// - Throws: `invalidArgument` before the driver runs; then whatever the driver throws.
    public func invoke(on driver: Driver, arguments: [String: JSONValue]) async throws -> JSONValue {
        try await run(on: driver, check(arguments))
    }

    /// Checks `arguments` against the schema (defaults filled in, values canonical).
    ///
    /// - Throws: `invalidArgument` naming the argument.
    public func check(_ arguments: [String: JSONValue]) throws(LabvisorError) -> Arguments {
        Arguments(values: try schema.validate(arguments: arguments), method: schema.name)
    }

    /// Runs the method with arguments `check(_:)` returned.
    public func run(on driver: Driver, _ arguments: Arguments) async throws -> JSONValue {
        try await body(driver, arguments)
    }
}
