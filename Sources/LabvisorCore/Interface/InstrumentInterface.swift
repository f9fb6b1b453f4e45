/// Everything a driver declares: its methods and properties. The daemon describes an
/// instrument with it, checks calls against it and routes them, before any driver code runs.
public struct InstrumentInterface: Sendable, Hashable, Codable {
    /// The driver that declares it (`zaber-ascii`).
    public var driver: String
    /// The methods, in declaration order.
    public var methods: [MethodSchema]
    /// The properties, in declaration order.
    public var properties: [PropertySchema]

    /// Creates an interface.
    public init(driver: String, methods: [MethodSchema], properties: [PropertySchema]) {
        self.driver = driver
        self.methods = methods
        self.properties = properties
    }

    /// The method named `name`.
    ///
    /// - Throws: `unknownMethod` listing the methods there are.
    public func method(_ name: String) throws(LabvisorError) -> MethodSchema {
        guard let method = methods.first(where: { $0.name == name }) else {
            throw LabvisorError(
                .unknownMethod,
                "driver '\(driver)' has no method '\(name)' (it has \(methods.map(\.name).joined(separator: ", ")))",
                fields: ["driver": .string(driver), "method": .string(name), "methods": .array(methods.map { .string($0.name) })])
        }
        return method
    }

    /// The property named `name`.
    ///
    /// - Throws: `notFound` listing the properties there are.
    public func property(_ name: String) throws(LabvisorError) -> PropertySchema {
        guard let property = properties.first(where: { $0.name == name }) else {
            throw LabvisorError(
                .notFound,
                "driver '\(driver)' has no property '\(name)' (it has \(properties.map(\.name).joined(separator: ", ")))",
                fields: [
                    "kind": "property", "name": .string(name), "driver": .string(driver),
                    "properties": .array(properties.map { .string($0.name) }),
                ])
        }
        return property
    }
}
