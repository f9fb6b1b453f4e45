import CLibUSB

/// Reads a libusb device's descriptors (cached by libusb from sysfs, no I/O to the device)
/// into a `USBDeviceInfo`.
enum USBDescriptorReader {
    /// The device's description; `nil` when libusb cannot read its device descriptor.
    static func info(of device: OpaquePointer) -> USBDeviceInfo? {
        var descriptor = libusb_device_descriptor()
        guard libusb_get_device_descriptor(device, &descriptor) == 0 else { return nil }
        let bus = libusb_get_bus_number(device)
        var ports = [UInt8](repeating: 0, count: 8)
        let portCount = libusb_get_port_numbers(device, &ports, Int32(ports.count))
        let portPath =
            portCount > 0
            ? "\(bus)-" + ports.prefix(Int(portCount)).map(String.init).joined(separator: ".")
            : "usb\(bus)"  // a root hub
        let configurations = (0..<descriptor.bNumConfigurations).compactMap { index -> USBConfigurationInfo? in
            var config: UnsafeMutablePointer<libusb_config_descriptor>?
            guard libusb_get_config_descriptor(device, index, &config) == 0, let config else { return nil }
            defer { libusb_free_config_descriptor(config) }
            return configuration(config.pointee)
        }
        return USBDeviceInfo(
            bus: bus, address: libusb_get_device_address(device), portPath: portPath, vendorID: descriptor.idVendor,
            productID: descriptor.idProduct, usbVersion: descriptor.bcdUSB, deviceVersion: descriptor.bcdDevice,
            deviceClass: descriptor.bDeviceClass, deviceSubclass: descriptor.bDeviceSubClass,
            deviceProtocol: descriptor.bDeviceProtocol, maxPacketSize0: descriptor.bMaxPacketSize0,
            manufacturerIndex: descriptor.iManufacturer, productIndex: descriptor.iProduct,
            serialNumberIndex: descriptor.iSerialNumber, configurations: configurations)
    }

    private static func configuration(_ config: libusb_config_descriptor) -> USBConfigurationInfo {
        let interfaces = (0..<Int(config.bNumInterfaces)).map { index -> USBInterfaceInfo in
            let interface = config.interface[index]
            let settings = (0..<Int(interface.num_altsetting)).map { alternate -> USBAlternateSetting in
                let setting = interface.altsetting[alternate]
                let endpoints = (0..<Int(setting.bNumEndpoints)).map { number -> USBEndpointInfo in
                    let endpoint = setting.endpoint[number]
                    return USBEndpointInfo(
                        address: endpoint.bEndpointAddress, transferType: USBTransferType(attributes: endpoint.bmAttributes),
                        maxPacketSize: endpoint.wMaxPacketSize, interval: endpoint.bInterval)
                }
                return USBAlternateSetting(
                    interfaceNumber: setting.bInterfaceNumber, alternateSetting: setting.bAlternateSetting,
                    interfaceClass: setting.bInterfaceClass, interfaceSubclass: setting.bInterfaceSubClass,
                    interfaceProtocol: setting.bInterfaceProtocol, endpoints: endpoints,
                    extra: bytes(setting.extra, count: setting.extra_length))
            }
            return USBInterfaceInfo(number: settings.first?.interfaceNumber ?? UInt8(index), alternateSettings: settings)
        }
        return USBConfigurationInfo(
            value: config.bConfigurationValue, attributes: config.bmAttributes, maxPower: config.MaxPower,
            interfaces: interfaces, extra: bytes(config.extra, count: config.extra_length))
    }

    /// A copy of libusb's `extra` descriptor bytes.
    private static func bytes(_ pointer: UnsafePointer<UInt8>?, count: Int32) -> [UInt8] {
        guard let pointer, count > 0 else { return [] }
        return Array(UnsafeBufferPointer(start: pointer, count: Int(count)))
    }
}
