/// The one error type that crosses Labvisor's boundaries: a stable `code`, a sentence a
/// person can act on, and structured `fields` that programs can read (the holder of a lock,
/// the path of a bad query, the limit that was reached).
public struct LabvisorError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The stable code.
    public var code: ErrorCode
    /// A human sentence saying what went wrong.
    public var message: String
    /// Machine-readable details; their keys are documented per code in `docs/errors.md`.
    public var fields: [String: JSONValue]

    /// Creates an error with its code, sentence and fields.
    public init(_ code: ErrorCode, _ message: String, fields: [String: JSONValue] = [:]) {
        self.code = code
        self.message = message
        self.fields = fields
    }

    /// `code: message`, as the CLI prints it.
    public var description: String { "\(code): \(message)" }
}

extension LabvisorError {
    /// No such thing: `what` is a noun ("instrument"), `name` its name.
    public static func notFound(_ what: String, _ name: String) -> LabvisorError {
        LabvisorError(.notFound, "no \(what) named '\(name)'", fields: ["kind": .string(what), "name": .string(name)])
    }

    /// An argument failed validation; `argument` names it, `reason` says why.
    public static func invalidArgument(_ argument: String, _ reason: String) -> LabvisorError {
        LabvisorError(
            .invalidArgument, "invalid argument '\(argument)': \(reason)",
            fields: ["argument": .string(argument), "reason": .string(reason)])
    }

    /// A limit was reached: `limit` names it ("observer seats of stage-x"), `value` is its size.
    public static func resourceExhausted(_ limit: String, value: Int) -> LabvisorError {
        LabvisorError(
            .resourceExhausted, "limit reached: \(limit) (\(value))",
            fields: ["limit": .string(limit), "value": .int(value)])
    }

    /// Something was used after it was closed.
    public static func closed(_ what: String) -> LabvisorError {
        LabvisorError(.closed, "\(what) is closed", fields: ["what": .string(what)])
    }

    /// A task was cancelled while waiting or running.
    public static func cancelled(_ what: String) -> LabvisorError {
        LabvisorError(.unavailable, "\(what) was cancelled", fields: ["what": .string(what), "cancelled": true])
    }
}
