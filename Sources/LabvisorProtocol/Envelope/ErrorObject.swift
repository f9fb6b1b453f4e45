@_exported import LabvisorCore

/// The JSON-RPC 2.0 error object as Labvisor sends it: `code` is a JSON-RPC integer,
/// `message` the human sentence, and `data` carries the stable Labvisor code and the
/// structured fields, so any JSON-RPC client can read it and a Labvisor client can rebuild
/// the exact `LabvisorError`.
public struct ErrorObject: Codable, Sendable, Hashable {
    /// The `data` member: the stable code and the error's fields.
    public struct Details: Codable, Sendable, Hashable {
        /// The stable Labvisor error code (`locked`, `notFound`, ...).
        public var labvisorCode: ErrorCode
        /// The structured fields of the error.
        public var fields: [String: JSONValue]
    }

    /// The JSON-RPC error number; Labvisor errors use the server range -32000 ... -32099,
    /// one number per stable code (see `jsonRPCCode(for:)`).
    public var code: Int
    /// The human sentence.
    public var message: String
    /// The stable code and fields.
    public var data: Details

    /// The wire form of `error`.
    public init(_ error: LabvisorError) {
        code = Self.jsonRPCCode(for: error.code)
        message = error.message
        data = Details(labvisorCode: error.code, fields: error.fields)
    }

    /// The `LabvisorError` this object carries.
    public var labvisorError: LabvisorError {
        LabvisorError(data.labvisorCode, message, fields: data.fields)
    }

    /// The JSON-RPC number of a stable code: -32000 minus its position in `ErrorCode`.
    /// Positions never change (new codes are only appended).
    public static func jsonRPCCode(for code: ErrorCode) -> Int {
        -32000 - ErrorCode.allCases.firstIndex(of: code)!
    }
}
