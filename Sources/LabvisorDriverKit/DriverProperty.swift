/// A property a driver declares: its schema, a typed getter, and for writable ones a typed
/// setter (which needs the lease).
///
/// ```swift
/// DriverProperty("position", "current position", unit: "mm") { stage in try await stage.position() }
/// DriverProperty("velocity", "maximum speed", unit: "mm/s", range: 0.001...50,
///     get: { stage in try await stage.velocity() }, set: { stage, value in try await stage.setVelocity(value) })
/// ```
public struct DriverProperty<Driver: InstrumentDriver>: Sendable {
    /// What clients see, and what writes are checked against.
    public let schema: PropertySchema
    private let getter: @Sendable (Driver) async throws -> JSONValue
    private let setter: (@Sendable (Driver, JSONValue) async throws -> Void)?

    /// Declares a property.
    ///
    /// - Parameters:
    ///   - name: as clients name it.
    ///   - summary: one line for users.
    ///   - unit: of a number.
    ///   - range: the values a write may set (inclusive).
    ///   - get: reads it from the device.
    ///   - set: writes it; `nil` for a read-only property.
    public init<Value: DriverValue>(
        _ name: String, _ summary: String, unit: String? = nil, range: ClosedRange<Double>? = nil,
        get: @escaping @Sendable (Driver) async throws -> Value,
        set: (@Sendable (Driver, Value) async throws -> Void)? = nil
    ) {
        schema = PropertySchema(
            name: name, summary: summary,
            value: ValueSchema(
                kind: Value.valueKind, unit: unit, minimum: range?.lowerBound, maximum: range?.upperBound,
                choices: Value.choices),
            writable: set != nil)
        getter = { driver in try await get(driver).json }
        if let set {
            setter = { @Sendable driver, json in
                guard let value = Value(json: json) else {
                    throw LabvisorError.invalidArgument(name, "\(json) is not a \(Value.valueKind)")
                }
                try await set(driver, value)
            }
        } else {
            setter = nil
        }
    }

    /// Reads the property.
    public func read(from driver: Driver) async throws -> JSONValue {
        try await getter(driver)
    }

    /// Checks `value` against the schema and writes it.
    ///
    /// - Throws: `invalidArgument` (bad value, or a read-only property) before the driver
    ///   runs; then whatever the driver throws.
    public func write(_ value: JSONValue, to driver: Driver) async throws {
        try await store(check(value), to: driver)
    }

    /// Checks a value to write: the property must be writable and the value valid.
    ///
    /// - Returns: the value in canonical form, for `store(_:to:)`.
    /// - Throws: `invalidArgument` naming the property (bad value, or read-only).
    public func check(_ value: JSONValue) throws(LabvisorError) -> JSONValue {
        guard setter != nil else {
            var error = LabvisorError.invalidArgument(schema.name, "property '\(schema.name)' is read-only")
            error.fields["readOnly"] = true
            throw error
        }
        return try schema.value.validate(value, as: schema.name)
    }

    /// Writes a value `check(_:)` returned.
    public func store(_ checked: JSONValue, to driver: Driver) async throws {
        guard let setter else {
            _ = try check(checked)  // throws the read-only error
            return
        }
        try await setter(driver, checked)
    }
}
