import LabvisorDriverKit

/// How an instrument reaches its device now: the hardware identity discovery reported (if
/// any), where the device is (`/dev/ttyUSB0`, a simulator's PTY, a USB port path), and how
/// to open its transport. A replugged device comes back with a new link (a new tty node, a
/// new PTY) to the same instrument.
public struct DeviceLink: Sendable {
    /// What discovery reported, `nil` for a simulated or built-in instrument.
    public var identity: DeviceIdentity?
    /// Where the device is, for messages and logs.
    public var location: String
    /// Opens the transport (the serial port on the node, the USB device from the identity).
    public var connect: @Sendable () throws -> DriverConnection

    /// Creates a link.
    public init(identity: DeviceIdentity? = nil, location: String, connect: @escaping @Sendable () throws -> DriverConnection) {
        self.identity = identity
        self.location = location
        self.connect = connect
    }
}
