import LabvisorCore

/// umockdev records of USB devices, and the identities discovery must read from them: the
/// devices of the discovery tests and of `labvisor-bench discovery.hotplug`.
public enum MockUSBRecords {
    /// The xHCI root hub the devices hang off: discovery must not report hubs.
    public static let rootHub = """
        P: /devices/pci0000:00/0000:00:14.0/usb1
        N: bus/usb/001/001
        E: SUBSYSTEM=usb
        E: DEVTYPE=usb_device
        E: DEVNAME=/dev/bus/usb/001/001
        A: idVendor=1d6b\\n
        A: idProduct=0002\\n
        A: bDeviceClass=09\\n
        A: manufacturer=Linux 6.1.0 xhci-hcd\\n
        A: product=xHCI Host Controller\\n

        P: /devices/pci0000:00/0000:00:14.0/usb1/1-0:1.0
        E: SUBSYSTEM=usb
        E: DEVTYPE=usb_interface
        E: DRIVER=hub
        A: bInterfaceClass=09\\n

        """

    public static let ftdiPath = "/devices/pci0000:00/0000:00:14.0/usb1/1-3"
    public static let ftdiInterfacePath = ftdiPath + "/1-3:1.0"
    public static let ftdiTTYPath = ftdiInterfacePath + "/ttyUSB0/tty/ttyUSB0"

    /// An FTDI FT232R USB-serial adapter with a serial number, bound to `ftdi_sio`, with `ttyUSB0`.
    public static let ftdi = """
        P: \(ftdiPath)
        N: bus/usb/001/007
        E: SUBSYSTEM=usb
        E: DEVTYPE=usb_device
        E: DEVNAME=/dev/bus/usb/001/007
        E: BUSNUM=001
        E: DEVNUM=007
        E: ID_VENDOR_ID=0403
        E: ID_MODEL_ID=6001
        E: ID_SERIAL=FTDI_FT232R_USB_UART_FT5XYZ12
        E: ID_SERIAL_SHORT=FT5XYZ12
        E: ID_PATH=pci-0000:00:14.0-usb-0:3
        E: ID_LABVISOR_CANDIDATE=1
        E: ID_VENDOR=FTDI
        A: idVendor=0403\\n
        A: idProduct=6001\\n
        A: serial=FT5XYZ12\\n
        A: manufacturer=FTDI\\n
        A: product=FT232R USB UART\\n
        A: busnum=1\\n
        A: devnum=7\\n

        P: \(ftdiInterfacePath)
        E: SUBSYSTEM=usb
        E: DEVTYPE=usb_interface
        E: DRIVER=ftdi_sio
        A: bInterfaceNumber=00\\n
        A: bInterfaceClass=ff\\n

        P: \(ftdiTTYPath)
        N: ttyUSB0
        A: dev=188:0\\n
        E: SUBSYSTEM=tty
        E: DEVNAME=/dev/ttyUSB0
        E: MAJOR=188
        E: MINOR=0
        E: ID_VENDOR_ID=0403
        E: ID_MODEL_ID=6001
        E: ID_SERIAL_SHORT=FT5XYZ12
        E: ID_PATH=pci-0000:00:14.0-usb-0:3:1.0
        E: ID_LABVISOR_CANDIDATE=1
        E: ID_LABVISOR_ROLE=dmm

        """

    /// `ftdi` cut before the tty record: (usb_device and interface, tty).
    public static var ftdiSplitAtTTY: (String, String) {
        let range = ftdi.range(of: "P: \(ftdiTTYPath)")!
        return (String(ftdi[..<range.lowerBound]), String(ftdi[range.lowerBound...]))
    }

    public static let ftdiIdentity = DeviceIdentity(
        bus: "usb", vendorID: "0403", productID: "6001", serial: "FT5XYZ12", manufacturer: "FTDI",
        product: "FT232R USB UART", portPath: "1-3", deviceNodes: ["/dev/bus/usb/001/007", "/dev/ttyUSB0"],
        sysfsPath: "/sys" + ftdiPath, drivers: ["ftdi_sio"], interfaceClasses: [0xff],
        properties: [
            "ID_PATH": "pci-0000:00:14.0-usb-0:3", "ID_SERIAL": "FTDI_FT232R_USB_UART_FT5XYZ12",
            "ID_SERIAL_SHORT": "FT5XYZ12", "ID_LABVISOR_CANDIDATE": "1", "ID_LABVISOR_ROLE": "dmm",
        ])

    public static let rawPath = "/devices/pci0000:00/0000:00:14.0/usb1/1-4"

    /// A vendor-class USB instrument without a serial number and without a kernel driver.
    public static let raw = """
        P: \(rawPath)
        N: bus/usb/001/008
        E: SUBSYSTEM=usb
        E: DEVTYPE=usb_device
        E: DEVNAME=/dev/bus/usb/001/008
        E: BUSNUM=001
        E: DEVNUM=008
        E: ID_PATH=pci-0000:00:14.0-usb-0:4
        A: idVendor=2939\\n
        A: idProduct=1\\n
        A: manufacturer=Example Corp\\n
        A: product=Fake Meter\\n
        A: busnum=1\\n
        A: devnum=8\\n

        P: \(rawPath)/1-4:1.0
        E: SUBSYSTEM=usb
        E: DEVTYPE=usb_interface
        A: bInterfaceNumber=00\\n
        A: bInterfaceClass=ff\\n

        """

    public static let rawIdentity = DeviceIdentity(
        bus: "usb", vendorID: "2939", productID: "0001", serial: nil, manufacturer: "Example Corp",
        product: "Fake Meter", portPath: "1-4", deviceNodes: ["/dev/bus/usb/001/008"], sysfsPath: "/sys" + rawPath,
        drivers: [], interfaceClasses: [0xff], properties: ["ID_PATH": "pci-0000:00:14.0-usb-0:4"])
}
