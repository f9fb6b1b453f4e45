/// A USB device as libusb enumerates it, without opening it: where it is and its descriptors.
public struct USBDeviceInfo: Sendable, Hashable, Codable {
    /// The bus number.
    public var bus: UInt8
    /// The device address on the bus.
    public var address: UInt8
    /// The port path, as the usb_device's sysfs name: "1-3.2" (bus 1, port 3, hub port 2).
    /// `DeviceIdentity.portPath` uses the same form.
    public var portPath: String
    /// `idVendor`.
    public var vendorID: UInt16
    /// `idProduct`.
    public var productID: UInt16
    /// `bcdUSB` (0x0200 for USB 2.0).
    public var usbVersion: UInt16
    /// `bcdDevice`.
    public var deviceVersion: UInt16
    /// `bDeviceClass` (0 means "per interface").
    public var deviceClass: UInt8
    /// `bDeviceSubClass`.
    public var deviceSubclass: UInt8
    /// `bDeviceProtocol`.
    public var deviceProtocol: UInt8
    /// `bMaxPacketSize0`, the control endpoint's packet size.
    public var maxPacketSize0: UInt8
    /// String descriptor indexes (0: none); the strings need an open device (`USBDevice.strings()`).
    public var manufacturerIndex: UInt8
    /// See `manufacturerIndex`.
    public var productIndex: UInt8
    /// See `manufacturerIndex`.
    public var serialNumberIndex: UInt8
    /// Every configuration, in index order.
    public var configurations: [USBConfigurationInfo]

    /// Creates a device description.
    public init(
        bus: UInt8, address: UInt8, portPath: String, vendorID: UInt16, productID: UInt16, usbVersion: UInt16 = 0x0200,
        deviceVersion: UInt16 = 0x0100, deviceClass: UInt8 = 0, deviceSubclass: UInt8 = 0, deviceProtocol: UInt8 = 0,
        maxPacketSize0: UInt8 = 64, manufacturerIndex: UInt8 = 0, productIndex: UInt8 = 0, serialNumberIndex: UInt8 = 0,
        configurations: [USBConfigurationInfo]
    ) {
        self.bus = bus
        self.address = address
        self.portPath = portPath
        self.vendorID = vendorID
        self.productID = productID
        self.usbVersion = usbVersion
        self.deviceVersion = deviceVersion
        self.deviceClass = deviceClass
        self.deviceSubclass = deviceSubclass
        self.deviceProtocol = deviceProtocol
        self.maxPacketSize0 = maxPacketSize0
        self.manufacturerIndex = manufacturerIndex
        self.productIndex = productIndex
        self.serialNumberIndex = serialNumberIndex
        self.configurations = configurations
    }

    /// "1-5 (2939:0001)": how errors name the device.
    public var label: String {
        "\(portPath) (\(USBDeviceInfo.hex4(vendorID)):\(USBDeviceInfo.hex4(productID)))"
    }

    /// Four lowercase hex digits, as `DeviceIdentity` spells USB ids.
    static func hex4(_ value: UInt16) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}

/// The string descriptors of an open device (in the device's first language), absent when
/// the device has none or does not answer.
public struct USBDeviceStrings: Sendable, Hashable, Codable {
    /// `iManufacturer`'s string.
    public var manufacturer: String?
    /// `iProduct`'s string.
    public var product: String?
    /// `iSerialNumber`'s string.
    public var serialNumber: String?

    /// Creates the strings.
    public init(manufacturer: String? = nil, product: String? = nil, serialNumber: String? = nil) {
        self.manufacturer = manufacturer
        self.product = product
        self.serialNumber = serialNumber
    }
}
