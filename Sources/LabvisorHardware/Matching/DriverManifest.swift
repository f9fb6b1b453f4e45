import LabvisorCore

/// A driver's manifest, `drivers/<id>/driver.toml`: what the daemon knows about a driver
/// before running any of its code. Parse one with `DriverManifestParser`, load a folder of
/// them with `DriverManifestLoader`.
public struct DriverManifest: Sendable, Hashable {
    /// The driver id; equals the name of the driver's folder ("zaber-ascii").
    public var id: String
    /// What kind of instrument the driver runs.
    public var kind: DriverKind
    /// One line for people.
    public var description: String
    /// The `[[match]]` rules, in file order. A device is claimed by the driver when any rule
    /// matches it. No rules: only a config pin can give the driver a device.
    public var matchRules: [DriverMatchRule]
    /// How the driver talks to the device.
    public var transport: DriverTransport
    /// The safe state.
    public var safeState: SafeState
    /// The file the manifest came from, for messages; empty when parsed from a string.
    public var file: String

    /// Creates a manifest.
    public init(
        id: String, kind: DriverKind, description: String, matchRules: [DriverMatchRule], transport: DriverTransport,
        safeState: SafeState, file: String = ""
    ) {
        self.id = id
        self.kind = kind
        self.description = description
        self.matchRules = matchRules
        self.transport = transport
        self.safeState = safeState
        self.file = file
    }

    /// The index of the first rule that matches, or `nil`.
    public func firstMatchingRule(_ identity: DeviceIdentity) -> Int? {
        matchRules.firstIndex { $0.matches(identity) }
    }
}
