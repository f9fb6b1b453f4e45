import LabvisorDriverKit

/// The video probe and commit control (`VS_PROBE_CONTROL` / `VS_COMMIT_CONTROL`, UVC 1.1
/// 4.3.1.1): 26 bytes for UVC 1.0, 34 for 1.1, 48 for 1.5 (the fields after the first 34
/// are kept as they came).
public struct UVCStreamControl: Sendable, Hashable {
    /// `bmHint` (bit 0: keep `dwFrameInterval`).
    public var hint: UInt16 = 1
    /// `bFormatIndex`, `bFrameIndex`.
    public var formatIndex: UInt8 = 0
    public var frameIndex: UInt8 = 0
    /// `dwFrameInterval`, in 100 ns units.
    public var frameInterval: UInt32 = 0
    /// `dwMaxVideoFrameSize`: bytes of one frame.
    public var maxVideoFrameSize: UInt32 = 0
    /// `dwMaxPayloadTransferSize`: bytes of one payload (header included), the size of each
    /// bulk transfer.
    public var maxPayloadTransferSize: UInt32 = 0
    /// `dwClockFrequency` (UVC 1.1): the device clock of PTS and SCR, in Hz.
    public var clockFrequency: UInt32 = 0
    /// `bmFramingInfo` (UVC 1.1): bit 0 FID required, bit 1 EOF may be present.
    public var framingInfo: UInt8 = 0
    /// Every byte as sent or received, so fields this driver does not interpret survive a
    /// GET_CUR/SET_CUR round trip.
    private var raw: [UInt8]

    /// The structure's length for a device of UVC version `bcdUVC`.
    public static func length(uvcVersion: UInt16) -> Int {
        uvcVersion >= 0x0150 ? 48 : uvcVersion >= 0x0110 ? 34 : 26
    }

    /// A probe asking for `formatIndex`/`frameIndex` at `frameInterval`, for a device of
    /// UVC version `uvcVersion`.
    public init(formatIndex: UInt8, frameIndex: UInt8, frameInterval: UInt32, uvcVersion: UInt16) {
        raw = [UInt8](repeating: 0, count: Self.length(uvcVersion: uvcVersion))
        self.formatIndex = formatIndex
        self.frameIndex = frameIndex
        self.frameInterval = frameInterval
    }

    /// Reads the structure a device sent.
    /// - Throws: `driverFault` when it is shorter than 26 bytes.
    public init(bytes: [UInt8]) throws(LabvisorError) {
        guard bytes.count >= 26 else {
            throw LabvisorError(
                .driverFault, "the camera answered the video probe control with \(bytes.count) bytes; at least 26 are needed",
                fields: ["length": .int(bytes.count)])
        }
        raw = bytes
        hint = le16(bytes, 0)
        formatIndex = bytes[2]
        frameIndex = bytes[3]
        frameInterval = le32(bytes, 4)
        maxVideoFrameSize = le32(bytes, 18)
        maxPayloadTransferSize = le32(bytes, 22)
        if bytes.count >= 34 {
            clockFrequency = le32(bytes, 26)
            framingInfo = bytes[30]
        }
    }

    /// The bytes to send (as long as the structure this one was made or read with).
    public var bytes: [UInt8] {
        var bytes = raw
        putLE(hint, into: &bytes, at: 0)
        bytes[2] = formatIndex
        bytes[3] = frameIndex
        putLE(frameInterval, into: &bytes, at: 4)
        putLE(maxVideoFrameSize, into: &bytes, at: 18)
        putLE(maxPayloadTransferSize, into: &bytes, at: 22)
        if bytes.count >= 34 {
            putLE(clockFrequency, into: &bytes, at: 26)
            bytes[30] = framingInfo
        }
        return bytes
    }

    /// Equal when their bytes are.
    public static func == (left: UVCStreamControl, right: UVCStreamControl) -> Bool { left.bytes == right.bytes }

    /// Hashes the bytes.
    public func hash(into hasher: inout Hasher) { hasher.combine(bytes) }
}
