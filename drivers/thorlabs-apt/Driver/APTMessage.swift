import LabvisorDriverKit

/// One APT (Kinesis) message: a 6-byte little-endian header, then an optional data packet.
///
/// Header-only messages carry two one-byte parameters (`param1`, `param2`); messages with
/// data set bit 7 of the destination byte and put the data length in header bytes 2-3
/// (Thorlabs "APT Communications Protocol", section "Message structure").
public struct APTMessage: Sendable, Hashable {
    /// The message id (`0x0443` = MGMSG_MOT_MOVE_HOME).
    public var id: UInt16
    /// Header byte 2 of a header-only message (usually the channel).
    public var param1: UInt8
    /// Header byte 3 of a header-only message.
    public var param2: UInt8
    /// The data packet, `nil` for a header-only message.
    public var data: [UInt8]?
    /// The destination address (without the data flag).
    public var destination: UInt8
    /// The source address.
    public var source: UInt8

    /// The host PC's address.
    public static let host: UInt8 = 0x01
    /// A generic USB unit (K-Cube, T-Cube): the controller's address.
    public static let usbUnit: UInt8 = 0x50

    /// A header-only message from the host to the controller.
    public init(_ id: UInt16, param1: UInt8 = 0, param2: UInt8 = 0, destination: UInt8 = usbUnit, source: UInt8 = host) {
        self.id = id
        self.param1 = param1
        self.param2 = param2
        data = nil
        self.destination = destination
        self.source = source
    }

    /// A message with a data packet from the host to the controller.
    public init(_ id: UInt16, data: [UInt8], destination: UInt8 = usbUnit, source: UInt8 = host) {
        self.id = id
        param1 = 0
        param2 = 0
        self.data = data
        self.destination = destination
        self.source = source
    }

    /// Decodes a whole message as the APT frame decoder cuts it.
    ///
    /// - Throws: `driverFault` when the frame is shorter or longer than its header says.
    public init(frame: [UInt8]) throws(LabvisorError) {
        guard frame.count >= 6 else {
            throw LabvisorError(.driverFault, "an APT message of \(frame.count) bytes is shorter than its 6-byte header")
        }
        id = UInt16(frame[0]) | UInt16(frame[1]) << 8
        destination = frame[4] & 0x7F
        source = frame[5]
        if frame[4] & 0x80 != 0 {
            let length = Int(frame[2]) | Int(frame[3]) << 8
            guard frame.count == 6 + length else {
                throw LabvisorError(
                    .driverFault, "APT message 0x\(Self.hex(id)) announces \(length) data bytes but has \(frame.count - 6)")
            }
            param1 = 0
            param2 = 0
            data = Array(frame[6...])
        } else {
            guard frame.count == 6 else {
                throw LabvisorError(.driverFault, "header-only APT message 0x\(Self.hex(id)) has \(frame.count - 6) extra bytes")
            }
            param1 = frame[2]
            param2 = frame[3]
            data = nil
        }
    }

    /// The bytes on the wire.
    public var bytes: [UInt8] {
        guard let data else {
            return [UInt8(id & 0xFF), UInt8(id >> 8), param1, param2, destination, source]
        }
        return [UInt8(id & 0xFF), UInt8(id >> 8), UInt8(data.count & 0xFF), UInt8(data.count >> 8), destination | 0x80, source]
            + data
    }

    /// The id as four hex digits, for messages.
    public var hexID: String { Self.hex(id) }

    static func hex(_ id: UInt16) -> String {
        let digits = String(id, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}

extension APTMessage {
    /// The unsigned 16-bit little-endian field at `offset` of the data packet.
    ///
    /// - Throws: `driverFault` naming the message when the packet is too short.
    public func word(at offset: Int) throws(LabvisorError) -> UInt16 {
        let bytes = try field(at: offset, size: 2)
        return UInt16(bytes[bytes.startIndex]) | UInt16(bytes[bytes.startIndex + 1]) << 8
    }

    /// The unsigned 32-bit little-endian field at `offset` of the data packet.
    ///
    /// - Throws: as `word(at:)`.
    public func dword(at offset: Int) throws(LabvisorError) -> UInt32 {
        let bytes = try field(at: offset, size: 4)
        return bytes.reversed().reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// The signed 32-bit little-endian field at `offset` of the data packet.
    ///
    /// - Throws: as `word(at:)`.
    public func long(at offset: Int) throws(LabvisorError) -> Int32 {
        Int32(bitPattern: try dword(at: offset))
    }

    /// The NUL-padded text field of `size` bytes at `offset`, without trailing spaces.
    ///
    /// - Throws: as `word(at:)`.
    public func text(at offset: Int, size: Int) throws(LabvisorError) -> String {
        let bytes = try field(at: offset, size: size)
        var visible = Array(bytes.prefix { $0 != 0 })
        while visible.last == 0x20 { visible.removeLast() }
        return String(decoding: visible, as: UTF8.self)
    }

    private func field(at offset: Int, size: Int) throws(LabvisorError) -> ArraySlice<UInt8> {
        guard let data, offset >= 0, data.count >= offset + size else {
            throw LabvisorError(
                .driverFault,
                "APT message 0x\(hexID) is too short: it has \(data?.count ?? 0) data bytes, reading \(size) at offset \(offset)",
                fields: ["messageID": .int(Int(id))])
        }
        return data[offset..<(offset + size)]
    }
}

extension [UInt8] {
    /// Appends `value` little-endian (an APT word).
    mutating func appendWord(_ value: UInt16) {
        append(UInt8(value & 0xFF))
        append(UInt8(value >> 8))
    }

    /// Appends `value` little-endian (an APT long).
    mutating func appendLong(_ value: Int32) {
        let bits = UInt32(bitPattern: value)
        for shift in stride(from: 0, to: 32, by: 8) { append(UInt8((bits >> UInt32(shift)) & 0xFF)) }
    }
}
