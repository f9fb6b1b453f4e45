import CUdev
import LabvisorCore

/// Reads `DeviceIdentity`s from udev and sysfs, never opening a device node.
///
/// Not `Sendable`: a libudev context is not thread-safe, so the reader lives and dies on the
/// discovery thread.
final class UdevIdentityReader {
    /// The libudev context (owned).
    let udev: OpaquePointer

    /// udev properties copied into `DeviceIdentity.properties` (besides `ID_LABVISOR_*`).
    static let keptProperties: Set<String> = [
        "ID_PATH", "ID_PATH_TAG", "ID_SERIAL", "ID_SERIAL_SHORT", "ID_VENDOR_FROM_DATABASE",
        "ID_MODEL_FROM_DATABASE", "ID_USB_INTERFACES", "ID_MM_DEVICE_IGNORE",
    ]

    init() throws(LabvisorError) {
        guard let udev = udev_new() else {
            throw LabvisorError(.unavailable, "udev_new failed: no udev context (is /sys mounted?)")
        }
        self.udev = udev
    }

    deinit { udev_unref(udev) }

    /// Every USB device present now (the coldplug scan), in sysfs path order.
    func presentDevices() -> [DeviceIdentity] {
        sysfsPaths(subsystem: "usb", parent: nil).compactMap { path -> DeviceIdentity? in
            guard let device = udev_device_new_from_syspath(udev, path) else { return nil }
            defer { udev_device_unref(device) }
            guard Self.string(udev_device_get_devtype(device)) == "usb_device" else { return nil }
            return identity(of: device)
        }
    }

    /// The identity of the usb_device at `syspath`, `nil` when it is not (or no longer) there
    /// or is a hub.
    func identity(ofUSBDevice syspath: String) -> DeviceIdentity? {
        guard let device = udev_device_new_from_syspath(udev, syspath) else { return nil }
        defer { udev_device_unref(device) }
        return identity(of: device)
    }

    /// The sysfs path of the usb_device that `device` is or sits below, `nil` for devices
    /// not on USB (a built-in `ttyS0`, a virtual console).
    static func usbDevicePath(of device: OpaquePointer) -> String? {
        if string(udev_device_get_subsystem(device)) == "usb", string(udev_device_get_devtype(device)) == "usb_device" {
            return string(udev_device_get_syspath(device))
        }
        // The parent is owned by `device`: no unref.
        guard let parent = udev_device_get_parent_with_subsystem_devtype(device, "usb", "usb_device") else {
            return nil
        }
        return string(udev_device_get_syspath(parent))
    }

    /// `nil` for hubs (`bDeviceClass` 09, root hubs included): they are not instruments.
    private func identity(of usbDevice: OpaquePointer) -> DeviceIdentity? {
        if Self.attribute(usbDevice, "bDeviceClass") == "09" { return nil }
        guard let syspath = Self.string(udev_device_get_syspath(usbDevice)),
            let vendorID = Self.hexID(usbDevice, attribute: "idVendor", property: "ID_VENDOR_ID"),
            let productID = Self.hexID(usbDevice, attribute: "idProduct", property: "ID_MODEL_ID")
        else { return nil }
        var identity = DeviceIdentity(
            vendorID: vendorID, productID: productID, serial: Self.attribute(usbDevice, "serial"),
            manufacturer: Self.attribute(usbDevice, "manufacturer"), product: Self.attribute(usbDevice, "product"),
            portPath: Self.string(udev_device_get_sysname(usbDevice)) ?? "", sysfsPath: syspath)
        if let node = Self.string(udev_device_get_devnode(usbDevice)) { identity.deviceNodes.append(node) }
        identity.properties = Self.keptProperties(of: usbDevice)

        // Interfaces and tty nodes below it, in sysfs path order (interface 1-3:1.0 before 1-3:1.1).
        var ttyNodes: [String] = []
        for child in sysfsPaths(subsystem: nil, parent: usbDevice) where child != syspath {
            guard let device = udev_device_new_from_syspath(udev, child) else { continue }
            defer { udev_device_unref(device) }
            switch (Self.string(udev_device_get_subsystem(device)), Self.string(udev_device_get_devtype(device))) {
            case ("usb", "usb_interface"):
                // The uevent's DRIVER (the kernel sets it for bound interfaces), else the `driver`
                // link. In this order: umockdev records have only the former, and with libudev 252
                // a failed `udev_device_get_driver` leaves the DRIVER property unreadable (garbage).
                let driver =
                    Self.string(udev_device_get_property_value(device, "DRIVER"))
                    ?? Self.string(udev_device_get_driver(device))
                if let driver, !driver.isEmpty, !identity.drivers.contains(driver) {
                    identity.drivers.append(driver)
                }
                if let text = Self.attribute(device, "bInterfaceClass"), let value = UInt8(text, radix: 16),
                    !identity.interfaceClasses.contains(value)
                {
                    identity.interfaceClasses.append(value)
                }
            case ("tty", _):
                if let node = Self.string(udev_device_get_devnode(device)) { ttyNodes.append(node) }
            default:
                continue
            }
            // The usb_device's own properties win; children only fill in missing ones.
            identity.properties.merge(Self.keptProperties(of: device)) { own, _ in own }
        }
        identity.deviceNodes += ttyNodes.sorted()
        return identity
    }

    /// Sysfs paths of an enumeration (by subsystem and/or below a parent), sorted.
    private func sysfsPaths(subsystem: String?, parent: OpaquePointer?) -> [String] {
        guard let enumerate = udev_enumerate_new(udev) else { return [] }
        defer { udev_enumerate_unref(enumerate) }
        if let subsystem { udev_enumerate_add_match_subsystem(enumerate, subsystem) }
        if let parent { udev_enumerate_add_match_parent(enumerate, parent) }
        udev_enumerate_scan_devices(enumerate)
        var paths: [String] = []
        var entry = udev_enumerate_get_list_entry(enumerate)
        while let current = entry {
            if let name = Self.string(udev_list_entry_get_name(current)) { paths.append(name) }
            entry = udev_list_entry_get_next(current)
        }
        return paths.sorted()
    }

    private static func keptProperties(of device: OpaquePointer) -> [String: String] {
        var properties: [String: String] = [:]
        var entry = udev_device_get_properties_list_entry(device)
        while let current = entry {
            if let name = string(udev_list_entry_get_name(current)),
                name.hasPrefix("ID_LABVISOR_") || keptProperties.contains(name)
            {
                properties[name] = string(udev_list_entry_get_value(current)) ?? ""
            }
            entry = udev_list_entry_get_next(current)
        }
        return properties
    }

    /// A four-digit lowercase hex id from a sysfs attribute, else from a udev property.
    private static func hexID(_ device: OpaquePointer, attribute name: String, property: String) -> String? {
        let raw = attribute(device, name) ?? string(udev_device_get_property_value(device, property))
        guard let raw, let value = UInt16(raw.trimmingWhitespace(), radix: 16) else { return nil }
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 4 - hex.count) + hex
    }

    /// A sysfs attribute with surrounding whitespace removed, `nil` when missing or empty.
    private static func attribute(_ device: OpaquePointer, _ name: String) -> String? {
        guard let value = string(udev_device_get_sysattr_value(device, name))?.trimmingWhitespace(), !value.isEmpty
        else { return nil }
        return value
    }

    static func string(_ pointer: UnsafePointer<CChar>?) -> String? {
        pointer.map { String(cString: $0) }
    }
}

extension String {
    /// The string without leading and trailing spaces, tabs and newlines.
    fileprivate func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}
