/// The lifecycle state of an instrument.
public enum LifecycleState: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// Present and bound to a driver; the driver is not running.
    case discovered
    /// The driver is starting (transport open, identify, initialise).
    case opening
    /// The driver is running and idle.
    case ready
    /// The driver is carrying out a call.
    case busy
    /// The driver is shutting down to its safe state.
    case closing
    /// The driver or device failed; it needs to be closed or reopened.
    case faulted
    /// The device was unplugged; kept for the grace period in case it comes back.
    case gone

    public var description: String { rawValue }
}
