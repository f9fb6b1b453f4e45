/// Timing of `UdevDiscovery`.
public struct DiscoveryConfiguration: Sendable, Hashable {
    /// How long a USB device must be quiet (no add/change/bind event for it or any of its
    /// interfaces and tty nodes) before its grouped identity is reported. Default 75 ms: a
    /// USB-serial adapter's usb_device, interface and tty events come within a few
    /// milliseconds of each other, and driver binding (which adds the tty) well under 50 ms
    /// after the interface; 75 ms leaves margin while staying below what a human notices.
    public var settleWindow: Duration
    /// How long a removed device is remembered as gone, so that plugging the same device
    /// back (same `stableKey`) re-attaches it. Default 10 s, as fwupd does for re-enumeration.
    public var gracePeriod: Duration

    /// Creates a configuration.
    public init(settleWindow: Duration = .milliseconds(75), gracePeriod: Duration = .seconds(10)) {
        self.settleWindow = settleWindow
        self.gracePeriod = gracePeriod
    }
}
