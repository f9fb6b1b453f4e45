import LabvisorDriverKit

/// What HW_GET_INFO (0x0006) reports.
///
/// Data packet (84 bytes): serial number (long), model number (8 chars), hardware type
/// (word), firmware version (4 bytes: minor, interim, major, unused), notes (48 chars),
/// 12 empty bytes, hardware version (word), modification state (word), channel count (word).
public struct APTDeviceInfo: Sendable, Hashable {
    /// The serial number (its first digits name the product: 27 = KDC101, 83 = TDC001).
    public var serialNumber: UInt32
    /// The controller's model ("KDC101").
    public var model: String
    /// The hardware type code.
    public var hardwareType: UInt16
    /// The firmware version, "major.interim.minor".
    public var firmware: String
    /// Free text the controller reports.
    public var notes: String
    /// The hardware version.
    public var hardwareVersion: UInt16
    /// The number of channels.
    public var channels: UInt16

    /// Decodes HW_GET_INFO.
    ///
    /// - Throws: `driverFault` when `message` is not HW_GET_INFO or is too short.
    public init(_ message: APTMessage) throws(LabvisorError) {
        guard message.id == APTMessageID.hwGetInfo else {
            throw LabvisorError(.driverFault, "expected HW_GET_INFO (0x0006), the controller sent 0x\(message.hexID)")
        }
        serialNumber = try message.dword(at: 0)
        model = try message.text(at: 4, size: 8)
        hardwareType = try message.word(at: 12)
        let minor = try message.word(at: 14) & 0xFF
        let interim = try message.word(at: 14) >> 8
        let major = try message.word(at: 16) & 0xFF
        firmware = "\(major).\(interim).\(minor)"
        notes = try message.text(at: 18, size: 48)
        hardwareVersion = try message.word(at: 78)
        channels = try message.word(at: 82)
    }
}
