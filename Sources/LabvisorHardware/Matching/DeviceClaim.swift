import LabvisorCore

/// Which driver, if any, gets a device: the result of `DeviceMatcher.claim`.
public enum DeviceClaim: Sendable, Hashable {
    /// `driver` runs the device. `instrumentName` is the pinned instrument's name when a
    /// config pin decided, `nil` when a manifest rule did.
    case claimed(driver: String, instrumentName: String?, by: ClaimReason)
    /// No pin and no manifest rule matches: the device is never opened nor probed.
    case unclaimed
    /// Rules of several drivers match and no pin decides (driver ids, sorted). The device
    /// is not opened until the configuration pins it.
    case ambiguous([String])
    /// The configuration is wrong for this device: a pin names a driver that no manifest
    /// declares (`notFound`), or several pins select the device (`invalidArgument`).
    case invalid(LabvisorError)
}

/// What decided a claim.
public enum ClaimReason: Sendable, Hashable {
    /// This config pin selects the device.
    case pin(InstrumentPin)
    /// The rule at this index (0-based, file order) of the claiming driver's manifest matched.
    case rule(index: Int)
}
