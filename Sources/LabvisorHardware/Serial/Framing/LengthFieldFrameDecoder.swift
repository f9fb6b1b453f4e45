import LabvisorCore

/// Cuts binary messages made of a fixed-size header and an optional data part whose length
/// is a field of the header. Frames are the whole message: header, then data.
///
/// The layout is configurable: header size, where the length field sits, its size and byte
/// order, whether the length counts the header too, and a predicate saying whether a header
/// is followed by a data part at all (`thorlabsAPT()` is the worked example).
///
/// Garbage: a header that `isValidHeader` rejects, or a data length above `maxDataLength`,
/// throws `driverFault` and skips one byte, so decoding slides forward until a plausible
/// header lines up again.
public struct LengthFieldFrameDecoder: FrameDecoder {
    /// Byte order of the length field.
    public enum Endianness: Sendable, Hashable {
        /// Least significant byte first.
        case little
        /// Most significant byte first.
        case big
    }

    /// Where the length is and what it means.
    public struct Layout: Sendable {
        /// Bytes in every header.
        public var headerSize: Int
        /// Offset of the length field in the header.
        public var lengthFieldOffset: Int
        /// Size of the length field: 1, 2, 4 or 8 bytes.
        public var lengthFieldSize: Int
        /// Byte order of the length field.
        public var endianness: Endianness
        /// Added to the field to get the data length (for example `-headerSize` when the
        /// field counts the whole message).
        public var lengthAdjustment: Int
        /// The largest data part accepted.
        public var maxDataLength: Int
        /// Whether a header is followed by a data part whose length is the length field;
        /// when it returns `false` the message is the header alone.
        public var hasDataPart: @Sendable (ArraySlice<UInt8>) -> Bool
        /// Whether a header is plausible at all; a rejected header is garbage.
        public var isValidHeader: @Sendable (ArraySlice<UInt8>) -> Bool

        /// Creates a layout.
        public init(
            headerSize: Int, lengthFieldOffset: Int, lengthFieldSize: Int, endianness: Endianness,
            lengthAdjustment: Int = 0, maxDataLength: Int = 4096,
            hasDataPart: @escaping @Sendable (ArraySlice<UInt8>) -> Bool = { _ in true },
            isValidHeader: @escaping @Sendable (ArraySlice<UInt8>) -> Bool = { _ in true }
        ) {
            precondition([1, 2, 4, 8].contains(lengthFieldSize), "lengthFieldSize must be 1, 2, 4 or 8")
            precondition(
                lengthFieldOffset >= 0 && lengthFieldOffset + lengthFieldSize <= headerSize,
                "the length field must lie inside the header")
            precondition(maxDataLength >= 0, "maxDataLength must not be negative")
            self.headerSize = headerSize
            self.lengthFieldOffset = lengthFieldOffset
            self.lengthFieldSize = lengthFieldSize
            self.endianness = endianness
            self.lengthAdjustment = lengthAdjustment
            self.maxDataLength = maxDataLength
            self.hasDataPart = hasDataPart
            self.isValidHeader = isValidHeader
        }
    }

    /// The message layout.
    public let layout: Layout
    private var queue = ByteQueue()

    /// Creates a decoder for `layout`.
    public init(layout: Layout) {
        self.layout = layout
    }

    /// Thorlabs APT (Kinesis) messages: a 6-byte header; when `header[4] & 0x80` is set,
    /// bytes 2-3 are the little-endian length of the data that follows, otherwise the
    /// message is the 6 bytes alone (bytes 2-3 are then parameters).
    ///
    /// APT has no sync byte, so a header is valid only when its destination (`header[4]`
    /// without the data flag) and source (`header[5]`) are APT addresses: host 0x01,
    /// rack 0x11, bays 0x21-0x2A, generic USB unit 0x50.
    ///
    /// - Parameter maxDataLength: the largest data part accepted (APT's largest messages
    ///   are under 128 bytes).
    public static func thorlabsAPT(maxDataLength: Int = 255) -> LengthFieldFrameDecoder {
        @Sendable func isAddress(_ byte: UInt8) -> Bool {
            byte == 0x01 || byte == 0x11 || (0x21...0x2A).contains(byte) || byte == 0x50
        }
        return LengthFieldFrameDecoder(
            layout: Layout(
                headerSize: 6, lengthFieldOffset: 2, lengthFieldSize: 2, endianness: .little,
                maxDataLength: maxDataLength,
                hasDataPart: { header in header[header.startIndex + 4] & 0x80 != 0 },
                isValidHeader: { header in
                    isAddress(header[header.startIndex + 4] & 0x7F) && isAddress(header[header.startIndex + 5])
                }))
    }

    public var bufferedByteCount: Int { queue.count }

    public mutating func append(_ bytes: some Collection<UInt8>) {
        queue.append(bytes)
    }

    public mutating func nextFrame() throws(LabvisorError) -> [UInt8]? {
        guard queue.count >= layout.headerSize else { return nil }
        let header = queue.bytes(from: 0, count: layout.headerSize)
        guard layout.isValidHeader(header) else {
            queue.drop(1)
            throw LabvisorError.badFrame("badHeader", "invalid message header \(Self.hex(header))")
        }
        var dataLength = 0
        if layout.hasDataPart(header) {
            dataLength = lengthField(header) + layout.lengthAdjustment
            guard (0...layout.maxDataLength).contains(dataLength) else {
                queue.drop(1)
                var error = LabvisorError.badFrame(
                    "frameTooLong",
                    "message header \(Self.hex(header)) announces \(dataLength) data bytes; the limit is \(layout.maxDataLength)")
                error.fields["maxLength"] = .int(layout.maxDataLength)
                throw error
            }
        }
        let total = layout.headerSize + dataLength
        guard queue.count >= total else { return nil }
        return queue.take(total)
    }

    public mutating func reset() {
        queue.removeAll()
    }

    private func lengthField(_ header: ArraySlice<UInt8>) -> Int {
        let field = header.dropFirst(layout.lengthFieldOffset).prefix(layout.lengthFieldSize)
        let ordered = layout.endianness == .little ? Array(field.reversed()) : Array(field)
        var value: UInt64 = 0
        for byte in ordered { value = value << 8 | UInt64(byte) }
        return Int(clamping: value)
    }

    private static func hex(_ bytes: ArraySlice<UInt8>) -> String {
        bytes.map { byte in
            let digits = String(byte, radix: 16, uppercase: true)
            return digits.count == 1 ? "0" + digits : digits
        }.joined(separator: " ")
    }
}
