/// A JSON-RPC 2.0 request (with `id`) or notification (without): one framed message.
public struct RPCRequest<Params: Codable & Sendable>: Codable, Sendable {
    /// Always `"2.0"`.
    public var jsonrpc: String
    /// The request id; `nil` for a notification (no response).
    public var id: RequestID?
    /// The method name (`instrument.invoke`).
    public var method: String
    /// The parameters, an object.
    public var params: Params

    /// Creates a request.
    public init(id: RequestID?, method: String, params: Params) {
        jsonrpc = "2.0"
        self.id = id
        self.method = method
        self.params = params
    }
}

/// The first look at an incoming request: its id and method, before the parameters are
/// decoded with the method's own type.
public struct RPCRequestHead: Codable, Sendable {
    /// `"2.0"`.
    public var jsonrpc: String?
    /// The id, when the request expects a response.
    public var id: RequestID?
    /// The method name.
    public var method: String?
}
