/// The direction of a USB endpoint or control transfer, seen from the host.
public enum USBDirection: String, Sendable, Hashable, Codable {
    /// Device to host (endpoint address bit 7 set).
    case `in`
    /// Host to device.
    case out

    /// The direction of an endpoint address (0x81 is `in`, 0x01 is `out`).
    public init(endpointAddress: UInt8) {
        self = endpointAddress & 0x80 != 0 ? .in : .out
    }
}
