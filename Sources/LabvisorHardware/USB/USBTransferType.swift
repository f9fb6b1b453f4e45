/// The transfer type of a USB endpoint (bits 0-1 of `bmAttributes`).
public enum USBTransferType: String, Sendable, Hashable, Codable {
    /// Endpoint 0's requests (setup packet, data, status).
    case control
    /// Periodic with reserved bandwidth and no retries (audio, some cameras).
    case isochronous
    /// Bulk data, no timing guarantee (cameras, instruments' command channels).
    case bulk
    /// Small periodic reports (status, events).
    case interrupt

    /// The type from an endpoint's `bmAttributes`.
    public init(attributes: UInt8) {
        switch attributes & 0x03 {
        case 0: self = .control
        case 1: self = .isochronous
        case 2: self = .bulk
        default: self = .interrupt
        }
    }

    /// The value of bits 0-1 of `bmAttributes`.
    public var attributeBits: UInt8 {
        switch self {
        case .control: 0
        case .isochronous: 1
        case .bulk: 2
        case .interrupt: 3
        }
    }
}
