/// One endpoint of an interface's alternate setting, from its endpoint descriptor.
public struct USBEndpointInfo: Sendable, Hashable, Codable {
    /// The endpoint address, direction bit included (0x81 is IN endpoint 1).
    public var address: UInt8
    /// The transfer type (`bmAttributes` bits 0-1).
    public var transferType: USBTransferType
    /// `wMaxPacketSize`.
    public var maxPacketSize: UInt16
    /// `bInterval` (polling interval of interrupt and isochronous endpoints).
    public var interval: UInt8

    /// Creates an endpoint description.
    public init(address: UInt8, transferType: USBTransferType, maxPacketSize: UInt16, interval: UInt8 = 0) {
        self.address = address
        self.transferType = transferType
        self.maxPacketSize = maxPacketSize
        self.interval = interval
    }

    /// The direction, from bit 7 of the address.
    public var direction: USBDirection { USBDirection(endpointAddress: address) }
}
