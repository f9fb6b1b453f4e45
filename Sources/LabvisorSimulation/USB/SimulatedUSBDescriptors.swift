import LabvisorHardware

/// The descriptors of a simulated USB device: what libusb reads from sysfs (`descriptors`)
/// and what GET_DESCRIPTOR control requests answer. One configuration (value 1).
///
/// String descriptor indexes are fixed: manufacturer 1, product 2, serial number 3 (0 when
/// the string is absent); language 0x0409 (English, US).
public struct SimulatedUSBDescriptors: Sendable, Hashable {
    /// `idVendor`.
    public var vendorID: UInt16
    /// `idProduct`.
    public var productID: UInt16
    /// `bcdDevice`.
    public var deviceVersion: UInt16
    /// `bDeviceClass` (0: per interface).
    public var deviceClass: UInt8
    /// `bDeviceSubClass`.
    public var deviceSubclass: UInt8
    /// `bDeviceProtocol`.
    public var deviceProtocol: UInt8
    /// The manufacturer string (string descriptor 1), if any.
    public var manufacturer: String?
    /// The product string (string descriptor 2), if any.
    public var product: String?
    /// The serial number string (string descriptor 3), if any.
    public var serialNumber: String?
    /// The one configuration.
    public var configuration: USBConfigurationInfo

    /// Creates the descriptors.
    public init(
        vendorID: UInt16, productID: UInt16, deviceVersion: UInt16 = 0x0100, deviceClass: UInt8 = 0,
        deviceSubclass: UInt8 = 0, deviceProtocol: UInt8 = 0, manufacturer: String? = nil, product: String? = nil,
        serialNumber: String? = nil, configuration: USBConfigurationInfo
    ) {
        self.vendorID = vendorID
        self.productID = productID
        self.deviceVersion = deviceVersion
        self.deviceClass = deviceClass
        self.deviceSubclass = deviceSubclass
        self.deviceProtocol = deviceProtocol
        self.manufacturer = manufacturer
        self.product = product
        self.serialNumber = serialNumber
        self.configuration = configuration
    }

    /// The 18-byte device descriptor (USB 2.0, 64-byte control endpoint).
    public var deviceDescriptor: [UInt8] {
        [
            18, 0x01, 0x00, 0x02, deviceClass, deviceSubclass, deviceProtocol, 64, lo(vendorID), hi(vendorID),
            lo(productID), hi(productID), lo(deviceVersion), hi(deviceVersion), manufacturer == nil ? 0 : 1,
            product == nil ? 0 : 2, serialNumber == nil ? 0 : 3, 1,
        ]
    }

    /// The configuration descriptor with its interface and endpoint descriptors (and the
    /// configuration's and settings' `extra` class-specific descriptors where they belong).
    public var configurationDescriptor: [UInt8] {
        var body: [UInt8] = configuration.extra
        for interface in configuration.interfaces {
            for setting in interface.alternateSettings {
                body += [
                    9, 0x04, setting.interfaceNumber, setting.alternateSetting, UInt8(setting.endpoints.count),
                    setting.interfaceClass, setting.interfaceSubclass, setting.interfaceProtocol, 0,
                ]
                body += setting.extra
                for endpoint in setting.endpoints {
                    body += [
                        7, 0x05, endpoint.address, endpoint.transferType.attributeBits, lo(endpoint.maxPacketSize),
                        hi(endpoint.maxPacketSize), endpoint.interval,
                    ]
                }
            }
        }
        let total = UInt16(9 + body.count)
        return [
            9, 0x02, lo(total), hi(total), UInt8(configuration.interfaces.count), configuration.value, 0,
            configuration.attributes, configuration.maxPower,
        ] + body
    }

    /// The sysfs `descriptors` file: the device descriptor, then the configuration.
    public var sysfsDescriptors: [UInt8] { deviceDescriptor + configurationDescriptor }

    /// String descriptor `index` (0: the language list), `nil` when there is none.
    public func stringDescriptor(index: UInt8) -> [UInt8]? {
        let text: String?
        switch index {
        case 0: return [4, 0x03, 0x09, 0x04]
        case 1: text = manufacturer
        case 2: text = product
        case 3: text = serialNumber
        default: text = nil
        }
        guard let text else { return nil }
        let units = Array(text.utf16.prefix(126))
        return [UInt8(2 + 2 * units.count), 0x03] + units.flatMap { [lo($0), hi($0)] }
    }

    /// What `USBContext.devices()` must report for this device at `bus`/`address`/`portPath`.
    public func expectedInfo(bus: UInt8, address: UInt8, portPath: String) -> USBDeviceInfo {
        USBDeviceInfo(
            bus: bus, address: address, portPath: portPath, vendorID: vendorID, productID: productID,
            usbVersion: 0x0200, deviceVersion: deviceVersion, deviceClass: deviceClass, deviceSubclass: deviceSubclass,
            deviceProtocol: deviceProtocol, maxPacketSize0: 64, manufacturerIndex: manufacturer == nil ? 0 : 1,
            productIndex: product == nil ? 0 : 2, serialNumberIndex: serialNumber == nil ? 0 : 3,
            configurations: [configuration])
    }

    private func lo(_ value: UInt16) -> UInt8 { UInt8(value & 0xff) }
    private func hi(_ value: UInt16) -> UInt8 { UInt8(value >> 8) }
}
