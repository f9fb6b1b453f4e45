/// One alternate setting of a USB interface, from its interface descriptor.
public struct USBAlternateSetting: Sendable, Hashable, Codable {
    /// `bInterfaceNumber`.
    public var interfaceNumber: UInt8
    /// `bAlternateSetting`.
    public var alternateSetting: UInt8
    /// `bInterfaceClass` (0x0e video, 0xff vendor-specific).
    public var interfaceClass: UInt8
    /// `bInterfaceSubClass`.
    public var interfaceSubclass: UInt8
    /// `bInterfaceProtocol`.
    public var interfaceProtocol: UInt8
    /// The endpoints of this setting, in descriptor order.
    public var endpoints: [USBEndpointInfo]
    /// The class-specific descriptors that follow the interface descriptor, raw (libusb's
    /// `extra`: a video interface's VC/VS descriptors), empty for most devices.
    public var extra: [UInt8]

    /// Creates an alternate setting description.
    public init(
        interfaceNumber: UInt8, alternateSetting: UInt8 = 0, interfaceClass: UInt8, interfaceSubclass: UInt8 = 0,
        interfaceProtocol: UInt8 = 0, endpoints: [USBEndpointInfo], extra: [UInt8] = []
    ) {
        self.extra = extra
        self.interfaceNumber = interfaceNumber
        self.alternateSetting = alternateSetting
        self.interfaceClass = interfaceClass
        self.interfaceSubclass = interfaceSubclass
        self.interfaceProtocol = interfaceProtocol
        self.endpoints = endpoints
    }
}

/// One USB interface: its alternate settings (at least one, setting 0 first).
public struct USBInterfaceInfo: Sendable, Hashable, Codable {
    /// The interface number.
    public var number: UInt8
    /// Its alternate settings, in descriptor order.
    public var alternateSettings: [USBAlternateSetting]

    /// Creates an interface description.
    public init(number: UInt8, alternateSettings: [USBAlternateSetting]) {
        self.number = number
        self.alternateSettings = alternateSettings
    }
}

/// One configuration of a USB device, from its configuration descriptor.
public struct USBConfigurationInfo: Sendable, Hashable, Codable {
    /// `bConfigurationValue` (what SET_CONFIGURATION takes).
    public var value: UInt8
    /// `bmAttributes` (0x80 always set; 0x40 self-powered; 0x20 remote wakeup).
    public var attributes: UInt8
    /// `bMaxPower`, in units of 2 mA for USB 2.
    public var maxPower: UInt8
    /// The interfaces, in descriptor order.
    public var interfaces: [USBInterfaceInfo]
    /// The descriptors between the configuration descriptor and the first interface, raw
    /// (libusb's `extra`: interface association descriptors), usually empty.
    public var extra: [UInt8]

    /// Creates a configuration description.
    public init(
        value: UInt8 = 1, attributes: UInt8 = 0x80, maxPower: UInt8 = 50, interfaces: [USBInterfaceInfo],
        extra: [UInt8] = []
    ) {
        self.extra = extra
        self.value = value
        self.attributes = attributes
        self.maxPower = maxPower
        self.interfaces = interfaces
    }
}
