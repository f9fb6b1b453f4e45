import LabvisorDriverKit

/// The header at the start of every video payload (UVC 1.1 2.4.3.3): `bHeaderLength`,
/// `bmHeaderInfo`, then a 4-byte PTS and a 6-byte SCR when their bits say so.
public struct UVCPayloadHeader: Sendable, Hashable {
    /// `bmHeaderInfo` bits.
    public static let frameID: UInt8 = 0x01
    public static let endOfFrame: UInt8 = 0x02
    public static let hasPresentationTime: UInt8 = 0x04
    public static let hasSourceClock: UInt8 = 0x08
    public static let stillImage: UInt8 = 0x20
    public static let error: UInt8 = 0x40
    public static let endOfHeader: UInt8 = 0x80

    /// `bHeaderLength`: where the payload's data starts.
    public var length: Int
    /// `bmHeaderInfo`.
    public var info: UInt8
    /// The presentation time stamp (device clock ticks), when present.
    public var presentationTime: UInt32?

    /// The frame id bit, which toggles at every new frame.
    public var frameID: Bool { info & Self.frameID != 0 }
    /// Whether this payload ends its frame.
    public var endOfFrame: Bool { info & Self.endOfFrame != 0 }
    /// Whether the device flagged an error in this payload.
    public var isError: Bool { info & Self.error != 0 }

    /// Reads the header of `payload`; `nil` when it is not a valid one (too short, a length
    /// past the payload, PTS/SCR bits that do not fit the length). The end-of-header bit is
    /// not required: cameras differ in setting it.
    public init?(_ payload: [UInt8]) {
        guard payload.count >= 2 else { return nil }
        length = Int(payload[0])
        info = payload[1]
        let needed = 2 + (info & Self.hasPresentationTime != 0 ? 4 : 0) + (info & Self.hasSourceClock != 0 ? 6 : 0)
        guard length >= needed, length <= payload.count else { return nil }
        presentationTime = info & Self.hasPresentationTime != 0 ? le32(payload, 2) : nil
    }
}
