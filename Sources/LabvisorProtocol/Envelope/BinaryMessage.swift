import Foundation
import NIOCore

/// A binary message: a JSON header and raw payload bytes in one frame, so bulk data (camera
/// frames) never travels as base64.
///
/// Layout of the frame (`Framing`): the 4-byte big-endian frame length `L`, then
/// `0x00` (`Framing.binaryMarker`), a 4-byte big-endian header length `H`, `H` bytes of
/// UTF-8 JSON (a JSON-RPC notification such as `stream.frame`, whose `params.bytes` is the
/// payload length `N`), and the `N` payload bytes; `L = 1 + 4 + H + N`.
public enum BinaryMessage {
    /// Bytes before the JSON header inside the frame: the marker and the header length.
    public static let preambleSize = 1 + 4

    /// The start of a binary frame up to the payload: the frame length prefix, the marker,
    /// the header length and the header. Write the payload's `payloadCount` bytes right after
    /// it (a second buffer in the same flush: the payload is never copied to join them).
    public static func head(header: [UInt8], payloadCount: Int, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: Framing.lengthSize + preambleSize + header.count)
        buffer.writeInteger(UInt32(preambleSize + header.count + payloadCount))
        buffer.writeInteger(Framing.binaryMarker)
        buffer.writeInteger(UInt32(header.count))
        buffer.writeBytes(header)
        return buffer
    }

    /// The encoded JSON header of a notification `method` with `params`.
    public static func header<Params: Codable & Sendable>(method: String, params: Params) throws -> [UInt8] {
        Array(try JSONEncoder().encode(RPCRequest(id: nil, method: method, params: params)))
    }

    /// A binary frame's content (without the length prefix) split into its JSON header and
    /// its payload (a slice of `frame`, not a copy).
    ///
    /// - Throws: `invalidArgument` naming `frame` when the marker, the header length or the
    ///   payload length does not fit.
    public static func split(_ frame: ByteBuffer) throws(LabvisorError) -> (header: ByteBuffer, payload: ByteBuffer) {
        var frame = frame
        guard frame.readInteger(as: UInt8.self) == Framing.binaryMarker,
            let length = frame.readInteger(as: UInt32.self), let header = frame.readSlice(length: Int(length))
        else {
            throw LabvisorError.invalidArgument("frame", "a binary message must start with 0x00 and a header length that fits the frame")
        }
        return (header, frame)
    }
}
