import LabvisorCore
import LabvisorHardware

/// A device side that streams numbered payloads on one bulk IN endpoint, as a camera streams
/// frames: payload `n` is `payloadLength` bytes, `n` as 4 little-endian bytes, then the byte
/// `(n + i) & 0xff` at offset `i`. A reader checks every payload with `expectedPayload`.
///
/// Each IN request gets the next payload (cut to the request's length), up to `limit`
/// payloads (then `notReady`). Other endpoints and control requests use the defaults
/// (stall, accept, not ready). Used by the USB tests and `labvisor-bench usb.bulk`.
public final class USBPatternStreamBehavior: USBDeviceBehavior {
    /// The bulk IN endpoint that streams.
    public let endpoint: UInt8
    /// Bytes per payload.
    public let payloadLength: Int
    /// How many payloads it sends at most (`nil`: no end).
    public let limit: Int?
    private let sent = LockedState(0)
    /// `(n + i) & 0xff` for every `i` and `n % 256`: payloads are cut from it without a loop.
    private let pattern: [UInt8]

    /// Creates the stream.
    public init(endpoint: UInt8 = 0x81, payloadLength: Int, limit: Int? = nil) {
        self.endpoint = endpoint
        self.payloadLength = payloadLength
        self.limit = limit
        pattern = (0..<(payloadLength + 256)).map { UInt8(truncatingIfNeeded: $0) }
    }

    /// Payloads handed out so far.
    public var payloadsSent: Int { sent.withLock { $0 } }

    /// Hands out the next payload when `endpoint` is the streaming one.
    public func transferIn(endpoint: UInt8, maxLength: Int) -> USBInReply {
        guard endpoint == self.endpoint else { return .notReady }
        let number: Int? = sent.withLock { sent in
            if let limit, sent >= limit { return nil }
            defer { sent += 1 }
            return sent
        }
        guard let number else { return .notReady }
        return .data(Self.payload(number, length: min(payloadLength, maxLength), pattern: pattern))
    }

    /// What payload `number` must be, byte for byte.
    public static func expectedPayload(_ number: Int, length: Int) -> [UInt8] {
        payload(number, length: length, pattern: (0..<(length + 256)).map { UInt8(truncatingIfNeeded: $0) })
    }

    private static func payload(_ number: Int, length: Int, pattern: [UInt8]) -> [UInt8] {
        let header = min(4, length)
        var bytes = (0..<header).map { UInt8(truncatingIfNeeded: number >> (8 * $0)) }
        bytes.reserveCapacity(length)
        let start = (number & 0xff) + header
        bytes.append(contentsOf: pattern[start..<(start + length - header)])
        return bytes
    }
}
