import NIOCore

/// Cuts the byte stream into frames: a 4-byte big-endian length, then that many bytes
/// (`Framing`). A length over `maxFrameSize` is an error (the connection is closed).
public struct LengthPrefixedFrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = ByteBuffer

    /// The largest frame accepted.
    public let maxFrameSize: Int

    /// A frame announced larger than the limit.
    public struct FrameTooLarge: Error {
        /// The announced size.
        public let size: Int
        /// The limit.
        public let limit: Int

        /// A frame of `size` bytes announced where at most `limit` are taken.
        public init(size: Int, limit: Int) {
            self.size = size
            self.limit = limit
        }
    }

    /// Creates a decoder accepting frames up to `maxFrameSize` bytes.
    public init(maxFrameSize: Int = Framing.defaultMaxFrameSize) {
        self.maxFrameSize = maxFrameSize
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return .needMoreData }
        guard Int(length) <= maxFrameSize else { throw FrameTooLarge(size: Int(length), limit: maxFrameSize) }
        guard buffer.readableBytes >= Framing.lengthSize + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: Framing.lengthSize)
        context.fireChannelRead(wrapInboundOut(buffer.readSlice(length: Int(length))!))
        return .continue
    }
}

extension ByteBufferAllocator {
    /// A frame: the length prefix and `payload`.
    public func frame(_ payload: [UInt8]) -> ByteBuffer {
        var buffer = buffer(capacity: Framing.lengthSize + payload.count)
        buffer.writeInteger(UInt32(payload.count))
        buffer.writeBytes(payload)
        return buffer
    }
}
