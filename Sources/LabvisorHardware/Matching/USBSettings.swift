/// The settings of a `kind = "usb"` transport (a libusb device). Every field is optional:
/// a driver that finds its interface and endpoints from the descriptors leaves them out.
public struct USBSettings: Sendable, Hashable {
    /// The interface number the driver claims.
    public var interface: Int?
    /// The class of the interface the driver claims, when it picks it by class (0x0e video).
    public var interfaceClass: UInt8?
    /// The IN endpoint address (0x81 ...).
    public var endpointIn: UInt8?
    /// The OUT endpoint address (0x01 ...).
    public var endpointOut: UInt8?
    /// Whether the driver detaches a kernel driver bound to the interface (uvcvideo).
    public var detachKernelDriver: Bool

    /// Creates USB settings.
    public init(
        interface: Int? = nil, interfaceClass: UInt8? = nil, endpointIn: UInt8? = nil, endpointOut: UInt8? = nil,
        detachKernelDriver: Bool = false
    ) {
        self.interface = interface
        self.interfaceClass = interfaceClass
        self.endpointIn = endpointIn
        self.endpointOut = endpointOut
        self.detachKernelDriver = detachKernelDriver
    }
}
