/// How a driver talks to its device (`[transport]` in `driver.toml`).
public enum DriverTransport: Sendable, Hashable {
    /// A serial port (USB-serial adapter or CDC-ACM): `kind = "serial"`.
    case serial(SerialTransport)
    /// A USB device through libusb: `kind = "usb"`.
    case usb(USBSettings)

    /// `"serial"` or `"usb"`, as written in the manifest.
    public var kind: String {
        switch self {
        case .serial: "serial"
        case .usb: "usb"
        }
    }
}
