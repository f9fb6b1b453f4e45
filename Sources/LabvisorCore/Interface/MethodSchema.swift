/// A driver method as the daemon describes it, checks calls against it and routes them.
public struct MethodSchema: Sendable, Hashable, Codable {
    /// The method's name (`moveAbsolute`).
    public var name: String
    /// One line for users.
    public var summary: String
    /// The arguments, in declaration order.
    public var arguments: [ArgumentSchema]
    /// What it returns; `nil` when it returns nothing.
    public var result: ValueSchema?
    /// Whether it needs the caller's lease.
    public var access: Access
    /// Whether it jumps the call queue and interrupts the call in progress (stop, abort).
    public var immediate: Bool

    /// Creates a method schema.
    public init(
        name: String, summary: String, arguments: [ArgumentSchema] = [], result: ValueSchema? = nil,
        access: Access = .control, immediate: Bool = false
    ) {
        self.name = name
        self.summary = summary
        self.arguments = arguments
        self.result = result
        self.access = access
        self.immediate = immediate
    }

    /// Checks a call's arguments: every required one present, none unknown, each valid.
    /// Returns the arguments in canonical form with defaults filled in.
    ///
    /// - Throws: `invalidArgument` naming the argument (missing, unknown, wrong type, out of
    ///   range).
    public func validate(arguments given: [String: JSONValue]) throws(LabvisorError) -> [String: JSONValue] {
        for name in given.keys.sorted() where !arguments.contains(where: { $0.name == name }) {
            let known = arguments.map(\.name)
            var error = LabvisorError.invalidArgument(
                name,
                "method '\(self.name)' has no such argument"
                    + (known.isEmpty ? " (it takes none)" : " (it takes \(known.joined(separator: ", ")))"))
            error.fields["method"] = .string(self.name)
            throw error
        }
        var checked: [String: JSONValue] = [:]
        for argument in arguments {
            if let value = given[argument.name], value != .null {
                checked[argument.name] = try argument.value.validate(value, as: argument.name)
            } else if let fallback = argument.defaultValue {
                checked[argument.name] = fallback
            } else {
                var error = LabvisorError.invalidArgument(
                    argument.name, "method '\(name)' needs it (\(argument.value.summary)): \(argument.summary)")
                error.fields["method"] = .string(name)
                error.fields["missing"] = true
                throw error
            }
        }
        return checked
    }
}
