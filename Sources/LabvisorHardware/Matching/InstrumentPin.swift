import LabvisorCore

/// An instrument of the configuration pinned to a device and a driver: "the stage with
/// serial 83836541 is `stage-x`, run by `thorlabs-apt`". A pin that matches a device wins
/// over every manifest rule, even when no rule of the pinned driver matches the device.
public struct InstrumentPin: Sendable, Hashable {
    /// How the pin finds its device.
    public enum Selector: Sendable, Hashable {
        /// The device whose USB serial number equals this string.
        case serial(String)
        /// The device at this USB port path ("1-3.2", `DeviceIdentity.portPath`).
        case portPath(String)
    }

    /// The instrument's name in the configuration.
    public var instrument: String
    /// The id of the driver that runs it.
    public var driver: String
    /// How the device is found.
    public var selector: Selector

    /// Creates a pin.
    public init(instrument: String, driver: String, selector: Selector) {
        self.instrument = instrument
        self.driver = driver
        self.selector = selector
    }

    /// Whether the pin selects `identity` (exact, case-sensitive comparison).
    public func matches(_ identity: DeviceIdentity) -> Bool {
        switch selector {
        case .serial(let serial): identity.serial == serial
        case .portPath(let portPath): identity.portPath == portPath
        }
    }
}
