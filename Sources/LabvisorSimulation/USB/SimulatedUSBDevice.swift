import CUMockdev
import LabvisorCore
import LabvisorHardware

/// A USB device that exists only in a umockdev testbed, driven by the real libusb code of
/// `LabvisorHardware`: its descriptors appear in sysfs (libusb enumerates it) and a
/// usbdevfs ioctl handler on its `/dev/bus/usb/BBB/DDD` node answers libusb's requests
/// through a `USBDeviceBehavior` (`USBIoctlResponder`).
///
/// The handler is attached before the device is added (umockdev issue 173), so libusb can
/// open it as soon as it appears. `unplug()` makes it vanish as a real unplug does.
///
/// Only root-hub ports (`"1-5"`): a deeper port path would need its hubs in the testbed.
/// Not `Sendable`, like the testbed: use it from the task that made it.
public final class SimulatedUSBDevice {
    /// The bus number.
    public let bus: UInt8
    /// The device address.
    public let address: UInt8
    /// The port path ("1-5"), the usb_device's sysfs name.
    public let portPath: String
    /// The sysfs path without `/sys` ("/devices/pci0000:00/0000:00:14.0/usb1/1-5").
    public let sysfsPath: String
    /// The device node ("/dev/bus/usb/001/005").
    public let deviceNode: String
    /// The descriptors it reports.
    public var descriptors: SimulatedUSBDescriptors { responder.descriptors }

    private let testbed: UmockdevTestbed
    private let handler: UnsafeMutablePointer<UMockdevIoctlBase>
    private let responder: USBIoctlResponder
    private var pluggedIn = true

    /// Adds the device to `testbed`.
    ///
    /// - Parameters:
    ///   - kernelDrivers: kernel drivers bound to interfaces at plug-in (interface: driver name),
    ///     which `libusb_detach_kernel_driver` takes off and a release with auto-detach puts back.
    /// - Throws: `invalidArgument` for a port path that is not `<bus>-<port>`, `unavailable`
    ///   when umockdev refuses the handler or the record.
    public init(
        testbed: UmockdevTestbed, descriptors: SimulatedUSBDescriptors, behavior: any USBDeviceBehavior,
        bus: UInt8 = 1, address: UInt8 = 5, port: UInt8 = 5, kernelDrivers: [UInt8: String] = [:]
    ) throws(LabvisorError) {
        self.testbed = testbed
        self.bus = bus
        self.address = address
        portPath = "\(bus)-\(port)"
        sysfsPath = "/devices/pci0000:00/0000:00:14.0/usb\(bus)/\(portPath)"
        deviceNode = "/dev/bus/usb/" + Self.threeDigits(bus) + "/" + Self.threeDigits(address)
        responder = USBIoctlResponder(descriptors: descriptors, behavior: behavior, kernelDrivers: kernelDrivers)
        guard let handler = umockdev_ioctl_base_new() else {
            throw LabvisorError(.unavailable, "umockdev_ioctl_base_new failed")
        }
        self.handler = handler
        let context = Unmanaged.passRetained(responder).toOpaque()
        g_signal_connect_data(
            UnsafeMutableRawPointer(handler), "handle-ioctl", unsafeBitCast(handleIoctl, to: GCallback.self), context,
            { context, _ in
                if let context { Unmanaged<USBIoctlResponder>.fromOpaque(context).release() }
            }, GConnectFlags(rawValue: 0))
        var error: UnsafeMutablePointer<GError>?
        guard umockdev_testbed_attach_ioctl(testbed.pointer, deviceNode, handler, &error) != 0 else {
            let message = error.map { String(cString: $0.pointee.message) } ?? "unknown error"
            g_error_free(error)
            g_object_unref(UnsafeMutableRawPointer(handler))
            throw LabvisorError(.unavailable, "umockdev_testbed_attach_ioctl(\(deviceNode)) failed: \(message)")
        }
        try testbed.add(record)
    }

    deinit {
        if pluggedIn {
            responder.unplug()
            testbed.remove("/sys" + sysfsPath)
        }
        umockdev_testbed_detach_ioctl(testbed.pointer, deviceNode, nil)
        g_object_unref(UnsafeMutableRawPointer(handler))
    }

    /// Unplugs the device: URBs in flight end with `-ESHUTDOWN` and later ones fail with
    /// `ENODEV` (libusb: NO_DEVICE), the device leaves sysfs and a `remove` uevent is sent.
    public func unplug() {
        guard pluggedIn else { return }
        pluggedIn = false
        responder.unplug()
        testbed.uevent("/sys" + sysfsPath, "remove")
        testbed.remove("/sys" + sysfsPath)
    }

    /// The interfaces the host has claimed now.
    public var claimedInterfaces: Set<UInt8> { responder.observations.claimed }
    /// The alternate settings the host selected (interface: setting).
    public var alternateSettings: [UInt8: UInt8] { responder.observations.alternateSettings }
    /// The kernel drivers bound now (interface: driver).
    public var kernelDrivers: [UInt8: String] { responder.observations.kernelDrivers }
    /// Every control request received, in order (GET_DESCRIPTOR included).
    public var controlRequests: [USBControlSetup] { responder.observations.controlRequests }
    /// URBs submitted so far.
    public var urbsSubmitted: Int { responder.observations.urbsSubmitted }
    /// URBs the host discarded (cancelled) while they waited for data.
    public var urbsDiscarded: Int { responder.observations.urbsDiscarded }
    /// IN URBs waiting for data now.
    public var pendingInRequests: Int { responder.pendingCount }

    /// What `USBContext.devices()` must report for this device.
    public var expectedInfo: USBDeviceInfo {
        descriptors.expectedInfo(bus: bus, address: address, portPath: portPath)
    }

    /// The identity discovery would read (for `USBContext.open(_ identity:)`).
    public var identity: DeviceIdentity {
        DeviceIdentity(
            vendorID: USBHex.four(descriptors.vendorID), productID: USBHex.four(descriptors.productID),
            serial: descriptors.serialNumber, manufacturer: descriptors.manufacturer, product: descriptors.product,
            portPath: portPath, deviceNodes: [deviceNode], sysfsPath: "/sys" + sysfsPath)
    }

    private var record: String {
        let vendor = USBHex.four(descriptors.vendorID)
        let product = USBHex.four(descriptors.productID)
        var lines = [
            "P: \(sysfsPath)", "N: \(deviceNode.dropFirst("/dev/".count))", "E: SUBSYSTEM=usb", "E: DEVTYPE=usb_device",
            "E: DRIVER=usb", "E: DEVNAME=\(deviceNode)", "E: BUSNUM=\(Self.threeDigits(bus))",
            "E: DEVNUM=\(Self.threeDigits(address))",
            "E: PRODUCT=\(String(descriptors.vendorID, radix: 16))/\(String(descriptors.productID, radix: 16))/"
                + String(descriptors.deviceVersion, radix: 16),
            "E: ID_VENDOR_ID=\(vendor)", "E: ID_MODEL_ID=\(product)", "A: idVendor=\(vendor)\\n",
            "A: idProduct=\(product)\\n", "A: busnum=\(bus)\\n", "A: devnum=\(address)\\n",
            "A: bConfigurationValue=\(descriptors.configuration.value)\\n", "A: speed=480\\n",
        ]
        if let serial = descriptors.serialNumber {
            lines += ["E: ID_SERIAL_SHORT=\(serial)", "A: serial=\(serial)\\n"]
        }
        if let manufacturer = descriptors.manufacturer { lines.append("A: manufacturer=\(manufacturer)\\n") }
        if let product = descriptors.product { lines.append("A: product=\(product)\\n") }
        lines.append("H: descriptors=" + descriptors.sysfsDescriptors.map { USBHex.two($0) }.joined())
        return lines.joined(separator: "\n") + "\n"
    }

    private static func threeDigits(_ value: UInt8) -> String {
        let digits = String(value)
        return String(repeating: "0", count: 3 - digits.count) + digits
    }
}

/// The "handle-ioctl" signal handler: hands the request to the responder in `userData`.
private let handleIoctl:
    @convention(c) (
        UnsafeMutablePointer<UMockdevIoctlBase>?, UnsafeMutablePointer<UMockdevIoctlClient>?, gpointer?
    ) -> gboolean = { _, client, userData in
        guard let client, let userData else { return 0 }
        Unmanaged<USBIoctlResponder>.fromOpaque(userData).takeUnretainedValue().handle(client)
        return 1
    }

/// Lowercase hex spellings of USB ids and bytes.
enum USBHex {
    static func four(_ value: UInt16) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 4 - digits.count) + digits
    }

    static func two(_ value: UInt8) -> String {
        let digits = String(value, radix: 16)
        return digits.count == 1 ? "0" + digits : digits
    }
}
