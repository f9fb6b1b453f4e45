/// The wire's JSON codec: `JSONParser` + `JSONValueDecoder` to read, `JSONValueEncoder` +
/// `JSONWriter` to write. Server and clients use it for every message; Foundation's
/// `JSONDecoder`/`JSONEncoder` are not on the message path (docs/benchmarks.md, "JSON codec").
public enum WireJSON {
    /// Decodes a `T` from JSON text.
    ///
    /// - Throws: `JSONParser.Failure` when the text is not JSON; `DecodingError` when it does
    ///   not have the shape of a `T`.
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: some Collection<UInt8>) throws -> T {
        try JSONValueDecoder().decode(type, from: try JSONParser.parse(bytes))
    }

    /// `value` as compact JSON text.
    public static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        JSONWriter.bytes(try JSONValueEncoder().encode(value))
    }

    /// The bytes of a success response (`RPCResponse(id:result:)`), the envelope written
    /// directly: only `result` goes through `Codable`.
    public static func encodeResponse<Result: Encodable>(id: RequestID?, result: Result) throws -> [UInt8] {
        encodeResponse(id: id, resultTree: try JSONValueEncoder().encode(result))
    }

    /// The bytes of a request (`RPCRequest(id:method:params:)`), the envelope written
    /// directly around the params' tree.
    public static func encodeRequest(id: RequestID, method: String, paramsTree: JSONValue) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(128)
        output.append(contentsOf: #"{"jsonrpc":"2.0","id":"#.utf8)
        JSONWriter.write(id.json, into: &output)
        output.append(contentsOf: #","method":"#.utf8)
        JSONWriter.write(.string(method), into: &output)
        output.append(contentsOf: #","params":"#.utf8)
        JSONWriter.write(paramsTree, into: &output)
        output.append(UInt8(ascii: "}"))
        return output
    }

    /// The bytes of a success response whose result is already a tree.
    public static func encodeResponse(id: RequestID?, resultTree: JSONValue) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(96)
        output.append(contentsOf: #"{"jsonrpc":"2.0","id":"#.utf8)
        JSONWriter.write(id?.json ?? .null, into: &output)
        output.append(contentsOf: #","result":"#.utf8)
        JSONWriter.write(resultTree, into: &output)
        output.append(UInt8(ascii: "}"))
        return output
    }
}
