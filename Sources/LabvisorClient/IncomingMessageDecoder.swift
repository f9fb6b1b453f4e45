import LabvisorProtocol
import NIOCore

/// One message from the daemon, cut out of the byte stream.
enum IncomingMessage {
    /// A JSON message (response or notification), a slice of the read buffer.
    case json(ByteBuffer)
    /// A binary message (`BinaryMessage`): its JSON header and its payload, already in the
    /// array the frame will keep.
    case binary(header: ByteBuffer, payload: [UInt8])
}

/// The client's framing (`Framing`): cuts the stream into messages like
/// `LengthPrefixedFrameDecoder`, but copies a large binary message's payload into its final
/// array as the reads come, instead of gathering the whole frame in NIO's cumulation buffer
/// (which grows by doubling, copying as it goes) and copying it out again: one copy per
/// payload byte instead of three or four (an 8 MiB camera frame arrives in 8 or more reads).
struct IncomingMessageDecoder: ByteToMessageDecoder {
    typealias InboundOut = IncomingMessage

    /// Binary messages with payloads of at least this many bytes are filled as they come;
    /// smaller ones are cut whole like JSON messages.
    static let directPayload = 64 << 10

    /// The largest frame accepted.
    let maxFrameSize: Int
    /// A large binary message being filled.
    private var filling: (header: ByteBuffer, payload: [UInt8], filled: Int)?

    init(maxFrameSize: Int = Framing.defaultMaxFrameSize) {
        self.maxFrameSize = maxFrameSize
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if filling != nil { return fill(context: context, buffer: &buffer) }
        let start = buffer.readerIndex
        guard let length = buffer.getInteger(at: start, as: UInt32.self).map(Int.init) else { return .needMoreData }
        guard length <= maxFrameSize else { throw LengthPrefixedFrameDecoder.FrameTooLarge(size: length, limit: maxFrameSize) }
        let preamble = Framing.lengthSize + BinaryMessage.preambleSize
        if length >= Self.directPayload, buffer.getInteger(at: start + Framing.lengthSize, as: UInt8.self) == Framing.binaryMarker {
            guard let headerLength = buffer.getInteger(at: start + Framing.lengthSize + 1, as: UInt32.self).map(Int.init) else {
                return .needMoreData
            }
            let payloadCount = length - BinaryMessage.preambleSize - headerLength
            if payloadCount >= 0 {
                guard buffer.readableBytes >= preamble + headerLength else { return .needMoreData }
                buffer.moveReaderIndex(forwardBy: preamble)
                let header = buffer.readSlice(length: headerLength)!
                // Every byte is written by `fill` before the array is handed on (UInt8 is a
                // trivial type: no element is read before it is written).
                let payload = [UInt8](unsafeUninitializedCapacity: payloadCount) { _, count in count = payloadCount }
                filling = (header, payload, 0)
                return fill(context: context, buffer: &buffer)
            }
            // A header longer than the frame: passed on whole, the handler refuses it.
        }
        guard buffer.readableBytes >= Framing.lengthSize + length else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: Framing.lengthSize)
        context.fireChannelRead(wrapInboundOut(.json(buffer.readSlice(length: length)!)))
        return .continue
    }

    /// Copies what has come of the payload being filled; passes the message on when whole.
    private mutating func fill(context: ChannelHandlerContext, buffer: inout ByteBuffer) -> DecodingState {
        guard case .some((let header, var payload, var filled)) = filling else { return .continue }
        filling = nil  // the array is uniquely held here while it is written
        let count = min(buffer.readableBytes, payload.count - filled)
        if count > 0 {
            payload.withUnsafeMutableBytes { target in
                buffer.withUnsafeReadableBytes { source in
                    target.baseAddress!.advanced(by: filled).copyMemory(from: source.baseAddress!, byteCount: count)
                }
            }
            buffer.moveReaderIndex(forwardBy: count)
        }
        filled += count
        guard filled == payload.count else {
            filling = (header, payload, filled)
            return .needMoreData
        }
        context.fireChannelRead(wrapInboundOut(.binary(header: header, payload: payload)))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }
}
