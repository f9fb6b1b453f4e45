import LabvisorCore

/// What discovery reports about one physical USB device (its usb_device node, interfaces
/// and tty nodes grouped together), or that the initial scan is over.
public enum DiscoveryEvent: Sendable, Hashable {
    /// A device appeared (at coldplug, or plugged in and settled).
    case added(DeviceIdentity)
    /// A present device's identity changed (a driver bound, a tty node appeared, ...).
    case changed(DeviceIdentity)
    /// The device is gone. It is kept for the grace period: the same `stableKey` coming back
    /// within it is reported as `reattached`, otherwise `expired` follows.
    case removed(DeviceIdentity)
    /// A device with the `stableKey` of a removed one came back within the grace period.
    /// Carries the new identity (port path and nodes may differ from the old one).
    case reattached(DeviceIdentity)
    /// The grace period of a removed device ended without it coming back: forget it.
    case expired(DeviceIdentity)
    /// Every device present at start has been reported as `added` (the daemon may now send
    /// `READY=1`). Sent exactly once, before any hotplug event.
    case coldplugComplete

    /// The identity the event is about, `nil` for `coldplugComplete`.
    public var identity: DeviceIdentity? {
        switch self {
        case .added(let identity), .changed(let identity), .removed(let identity), .reattached(let identity),
            .expired(let identity):
            return identity
        case .coldplugComplete:
            return nil
        }
    }
}
