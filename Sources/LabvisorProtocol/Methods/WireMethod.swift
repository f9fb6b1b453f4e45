/// One method of the wire: its name, its parameter and result types, and what it does.
/// `WireMethods.all` lists them; `docs/wire.md` is generated from that list.
public protocol WireMethod: Sendable {
    /// Parameters (an object).
    associatedtype Params: Codable & Sendable
    /// Result.
    associatedtype Result: Codable & Sendable
    /// The method name on the wire (`instrument.invoke`).
    static var name: String { get }
    /// What it does, for `docs/wire.md`.
    static var summary: String { get }
    /// The errors it may return beyond the generic ones, for `docs/wire.md`.
    static var errors: [ErrorCode] { get }
    /// An example of the parameters, for `docs/wire.md`.
    static var exampleParams: Params { get }
    /// An example of the result, for `docs/wire.md`.
    static var exampleResult: Result { get }
    /// `Params` read straight from a request's tree, past `Codable`: the hot methods
    /// (`instrument.invoke`, `get`, `set`, what an experiment calls in its loops) implement
    /// it. `nil` means "decode with `Codable`", and is the answer for anything but the plain
    /// well-formed shape, so malformed params get `Codable`'s one kind of error message.
    static func params(fromTree tree: JSONValue) -> Params?
    /// `result` as a tree, past `Codable`, for the hot methods; `nil`: encode with `Codable`.
    static func tree(of result: Result) -> JSONValue?
    /// `params` as a tree, past `Codable`: what the client sends, for the same hot methods
    /// (the other side of `params(fromTree:)`); `nil`: encode with `Codable`.
    static func tree(ofParams params: Params) -> JSONValue?
    /// `Result` read straight from a response's tree, past `Codable`: what the client
    /// receives (the other side of `tree(of:)`); `nil`, as for params, means "decode with
    /// `Codable`", for anything but the plain well-formed shape.
    static func result(fromTree tree: JSONValue) -> Result?
}

extension WireMethod {
    /// `Codable` decodes the params of most methods.
    public static func params(fromTree tree: JSONValue) -> Params? { nil }
    /// `Codable` encodes the results of most methods.
    public static func tree(of result: Result) -> JSONValue? { nil }
    /// `Codable` encodes the params of most methods.
    public static func tree(ofParams params: Params) -> JSONValue? { nil }
    /// `Codable` decodes the results of most methods.
    public static func result(fromTree tree: JSONValue) -> Result? { nil }
}

/// A notification the server sends (events, stream frames).
public protocol WireNotification: Sendable {
    /// Parameters (an object).
    associatedtype Params: Codable & Sendable
    /// The method name on the wire (`event`).
    static var name: String { get }
    /// What it carries.
    static var summary: String { get }
    /// An example, for `docs/wire.md`.
    static var exampleParams: Params { get }
}
