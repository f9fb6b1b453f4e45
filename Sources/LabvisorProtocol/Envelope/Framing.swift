/// How messages travel: each is one frame, a 4-byte big-endian length followed by that many
/// bytes. A frame whose first byte is `{` holds one JSON-RPC message (UTF-8 JSON). A frame
/// whose first byte is `0x00` is a binary message: `0x00`, a 4-byte big-endian header
/// length, a JSON header (a `stream.frame` notification), and the raw payload bytes.
public enum Framing {
    /// Bytes of the length prefix.
    public static let lengthSize = 4
    /// The largest frame a peer accepts by default (bigger ones are refused with
    /// `resourceExhausted` and the connection closed): 64 MiB, room for a 2048x2048x16-bit image.
    public static let defaultMaxFrameSize = 64 << 20
    /// First byte of a binary message.
    public static let binaryMarker: UInt8 = 0x00

    /// The 4-byte big-endian prefix for a frame of `count` bytes.
    public static func lengthPrefix(_ count: Int) -> [UInt8] {
        let value = UInt32(count)
        return [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    /// Appends one frame to `output`: a length prefix, then what `write` appends (its length is
    /// filled in after). Several frames appended to one buffer go out in one socket write.
    public static func appendFrame(to output: inout [UInt8], _ write: (inout [UInt8]) -> Void) {
        let start = output.count
        output.append(contentsOf: [0, 0, 0, 0])
        write(&output)
        let length = UInt32(output.count - start - lengthSize)
        output[start] = UInt8(length >> 24)
        output[start + 1] = UInt8(length >> 16 & 0xFF)
        output[start + 2] = UInt8(length >> 8 & 0xFF)
        output[start + 3] = UInt8(length & 0xFF)
    }

    /// Reads a big-endian length from the first four bytes of `bytes`.
    public static func readLength(_ bytes: some Collection<UInt8>) -> Int? {
        guard bytes.count >= lengthSize else { return nil }
        return bytes.prefix(lengthSize).reduce(0) { $0 << 8 | Int($1) }
    }
}
