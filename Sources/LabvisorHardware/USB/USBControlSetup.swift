/// The 8-byte setup packet of a USB control transfer, as the host sends it and a device
/// (or a simulated one) reads it.
public struct USBControlSetup: Sendable, Hashable, Codable, CustomStringConvertible {
    /// `bmRequestType`: direction (bit 7), type (bits 5-6: standard, class, vendor), recipient.
    public var requestType: UInt8
    /// `bRequest`.
    public var request: UInt8
    /// `wValue`.
    public var value: UInt16
    /// `wIndex`.
    public var index: UInt16
    /// `wLength`: bytes of the data stage.
    public var length: UInt16

    /// Creates a setup packet.
    public init(requestType: UInt8, request: UInt8, value: UInt16, index: UInt16, length: UInt16) {
        self.requestType = requestType
        self.request = request
        self.value = value
        self.index = index
        self.length = length
    }

    /// Reads a setup packet from its 8 little-endian bytes; `nil` when fewer are given.
    public init?<Bytes: Collection<UInt8>>(bytes: Bytes) {
        let b = Array(bytes.prefix(8))
        guard b.count == 8 else { return nil }
        self.init(
            requestType: b[0], request: b[1], value: UInt16(b[2]) | UInt16(b[3]) << 8,
            index: UInt16(b[4]) | UInt16(b[5]) << 8, length: UInt16(b[6]) | UInt16(b[7]) << 8)
    }

    /// The 8 bytes on the wire.
    public var bytes: [UInt8] {
        [
            requestType, request, UInt8(value & 0xff), UInt8(value >> 8), UInt8(index & 0xff), UInt8(index >> 8),
            UInt8(length & 0xff), UInt8(length >> 8),
        ]
    }

    /// The data stage's direction (bit 7 of `requestType`).
    public var direction: USBDirection { requestType & 0x80 != 0 ? .in : .out }

    /// `bRequest` GET_DESCRIPTOR.
    public static let getDescriptor: UInt8 = 0x06

    /// "request 0x06 type 0x80 value 0x0301 index 0x0409 length 255".
    public var description: String {
        "request \(Self.hex(request)) type \(Self.hex(requestType)) value \(Self.hex(value)) "
            + "index \(Self.hex(index)) length \(length)"
    }

    static func hex<T: BinaryInteger>(_ value: T) -> String {
        let digits = String(value, radix: 16)
        let width = MemoryLayout<T>.size * 2
        return "0x" + String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
