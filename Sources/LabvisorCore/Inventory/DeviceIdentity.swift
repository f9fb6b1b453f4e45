/// The hardware identity of a device, as discovery reads it from udev and sysfs (without
/// opening the device): what matching, naming and requirement queries see under `identity`.
public struct DeviceIdentity: Sendable, Hashable, Codable {
    /// The bus: "usb" for everything Labvisor discovers today.
    public var bus: String
    /// USB vendor id, four lowercase hex digits ("0403").
    public var vendorID: String
    /// USB product id, four lowercase hex digits ("6001").
    public var productID: String
    /// The USB serial number string, when the device has one.
    public var serial: String?
    /// The USB manufacturer string.
    public var manufacturer: String?
    /// The USB product string.
    public var product: String?
    /// The USB port path: the usb_device's sysfs name ("1-3.2").
    public var portPath: String
    /// Device nodes of the device and its interfaces ("/dev/bus/usb/001/005", "/dev/ttyUSB0").
    public var deviceNodes: [String]
    /// The usb_device's sysfs path.
    public var sysfsPath: String
    /// Kernel drivers bound to its interfaces ("ftdi_sio", "cdc_acm").
    public var drivers: [String]
    /// The interface classes (bInterfaceClass) of its interfaces (0x0e video, 0x02/0x0a CDC, 0xff vendor).
    public var interfaceClasses: [UInt8]
    /// udev properties of interest (`ID_LABVISOR_*`, `ID_PATH`, `ID_SERIAL`, ...).
    public var properties: [String: String]

    /// Creates an identity.
    public init(
        bus: String = "usb", vendorID: String, productID: String, serial: String? = nil, manufacturer: String? = nil,
        product: String? = nil, portPath: String, deviceNodes: [String] = [], sysfsPath: String, drivers: [String] = [],
        interfaceClasses: [UInt8] = [], properties: [String: String] = [:]
    ) {
        self.bus = bus
        self.vendorID = vendorID
        self.productID = productID
        self.serial = serial
        self.manufacturer = manufacturer
        self.product = product
        self.portPath = portPath
        self.deviceNodes = deviceNodes
        self.sysfsPath = sysfsPath
        self.drivers = drivers
        self.interfaceClasses = interfaceClasses
        self.properties = properties
    }

    /// The udev property that overrides `stableKey` (set by a site's own udev rule).
    public static let identityOverrideProperty = "ID_LABVISOR_IDENTITY"

    /// What identifies this device across replugs: the override property when set, else
    /// `VID:PID:serial` when it has a serial number, else `VID:PID@port-path`.
    public var stableKey: String {
        if let override = properties[Self.identityOverrideProperty], !override.isEmpty { return override }
        if let serial, !serial.isEmpty { return "\(vendorID):\(productID):\(serial)" }
        return "\(vendorID):\(productID)@\(portPath)"
    }

    /// The identity as a requirements-query document (`identity.serial`, ...).
    public var document: JSONValue {
        var members: [String: JSONValue] = [
            "bus": .string(bus), "vendorID": .string(vendorID), "productID": .string(productID),
            "portPath": .string(portPath), "deviceNodes": .array(deviceNodes.map(JSONValue.string)),
            "sysfsPath": .string(sysfsPath), "drivers": .array(drivers.map(JSONValue.string)),
            "interfaceClasses": .array(interfaceClasses.map { .int(Int($0)) }),
            "properties": .object(properties.mapValues(JSONValue.string)),
        ]
        if let serial { members["serial"] = .string(serial) }
        if let manufacturer { members["manufacturer"] = .string(manufacturer) }
        if let product { members["product"] = .string(product) }
        return .object(members)
    }
}
