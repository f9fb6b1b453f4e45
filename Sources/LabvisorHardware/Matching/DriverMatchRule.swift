import LabvisorCore

/// One `[[match]]` rule of a driver manifest. Every condition it states must hold; a
/// condition it leaves out (`nil`) holds for any device. A rule states at least one
/// condition (the parser refuses an empty rule, which would claim every device).
public struct DriverMatchRule: Sendable, Hashable {
    /// USB vendor id, four lowercase hex digits.
    public var vendorID: String?
    /// USB product id, four lowercase hex digits.
    public var productID: String?
    /// Pattern for the USB serial number string.
    public var serial: MatchPattern?
    /// Pattern for the USB manufacturer string.
    public var manufacturer: MatchPattern?
    /// Pattern for the USB product string.
    public var product: MatchPattern?
    /// An interface class (bInterfaceClass) that one of the device's interfaces must have.
    public var interfaceClass: UInt8?
    /// A udev property the device must carry.
    public var udevProperty: UdevPropertyMatch?

    /// Creates a rule.
    public init(
        vendorID: String? = nil, productID: String? = nil, serial: MatchPattern? = nil,
        manufacturer: MatchPattern? = nil, product: MatchPattern? = nil, interfaceClass: UInt8? = nil,
        udevProperty: UdevPropertyMatch? = nil
    ) {
        self.vendorID = vendorID
        self.productID = productID
        self.serial = serial
        self.manufacturer = manufacturer
        self.product = product
        self.interfaceClass = interfaceClass
        self.udevProperty = udevProperty
    }

    /// Whether the rule states no condition at all.
    public var isEmpty: Bool {
        vendorID == nil && productID == nil && serial == nil && manufacturer == nil && product == nil
            && interfaceClass == nil && udevProperty == nil
    }

    /// Whether every condition of the rule holds for `identity`. A string condition fails
    /// when the device lacks that string. Vendor and product ids compare case-insensitively.
    public func matches(_ identity: DeviceIdentity) -> Bool {
        if let vendorID, vendorID != identity.vendorID.lowercased() { return false }
        if let productID, productID != identity.productID.lowercased() { return false }
        if let serial, !(identity.serial.map(serial.matches) ?? false) { return false }
        if let manufacturer, !(identity.manufacturer.map(manufacturer.matches) ?? false) { return false }
        if let product, !(identity.product.map(product.matches) ?? false) { return false }
        if let interfaceClass, !identity.interfaceClasses.contains(interfaceClass) { return false }
        if let udevProperty, !udevProperty.matches(identity.properties) { return false }
        return true
    }
}
