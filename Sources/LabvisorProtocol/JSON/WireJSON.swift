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
}
