/// A JSON-RPC 2.0 response: `result` or `error`, never both.
public struct RPCResponse<Result: Codable & Sendable>: Codable, Sendable {
    /// Always `"2.0"`.
    public var jsonrpc: String
    /// The id of the request answered (`null` when the request could not be read).
    public var id: RequestID?
    /// The result, on success.
    public var result: Result?
    /// The error, on failure.
    public var error: ErrorObject?

    /// A success.
    public init(id: RequestID?, result: Result) {
        jsonrpc = "2.0"
        self.id = id
        self.result = result
        self.error = nil
    }

    /// A failure.
    public init(id: RequestID?, error: LabvisorError) {
        jsonrpc = "2.0"
        self.id = id
        self.result = nil
        self.error = ErrorObject(error)
    }

    private enum CodingKeys: String, CodingKey { case jsonrpc, id, result, error }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(jsonrpc, forKey: .jsonrpc)
        try container.encode(id, forKey: .id)  // `null` when unknown, as JSON-RPC requires
        if let error {
            try container.encode(error, forKey: .error)
        } else {
            try container.encode(result, forKey: .result)
        }
    }
}

/// The first look at an incoming response: its id and error, before the result is decoded.
public struct RPCResponseHead: Codable, Sendable {
    /// The id of the request answered.
    public var id: RequestID?
    /// The error, on failure.
    public var error: ErrorObject?
    /// The method, when the message is a notification instead.
    public var method: String?
}

/// An empty parameter or result object (`{}`).
public struct Empty: Codable, Sendable, Hashable {
    /// `{}`.
    public init() {}
}
