/// The transfer type of a USB endpoint (bits 0-1 of `bmAttributes`).
public enum USBTransferType: String, Sendable, Hashable, Codable {
    case control
    case isochronous
    case bulk
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
