import LabvisorDriverKit

/// Which instrument a discovered device becomes, decided by `DeviceMatcher` from the
/// configuration's pins and the manifests alone (no device is opened to decide): the
/// configured instrument pinned to it, else, for a device one manifest claims, an instrument
/// named `<driver>-<serial>` (or `<driver>-<port path>` without a serial number).
struct DeviceBinding: Sendable {
    /// What discovery's device turns out to be.
    enum Outcome: Sendable {
        /// It is this instrument.
        case bound(DeviceBinding)
        /// No pin and no manifest claims it: it is never opened.
        case unclaimed
        /// The configuration or the manifests conflict over it (the sentence says how).
        case refused(String)
    }

    /// The instrument's name.
    let name: String
    /// The claiming driver's manifest.
    let manifest: DriverManifest
    /// The configured instrument, when a pin decided.
    let configured: InstrumentConfiguration?

    /// The binding of `identity`.
    static func bind(_ identity: DeviceIdentity, manifests: [DriverManifest], configuration: DaemonConfiguration) -> Outcome {
        let pins = configuration.instruments.compactMap(\.pin)
        switch DeviceMatcher.claim(identity, manifests: manifests, pins: pins) {
        case .unclaimed:
            return .unclaimed
        case .ambiguous(let drivers):
            return .refused(
                "device \(identity.stableKey) at \(identity.portPath) is claimed by several drivers (\(drivers.joined(separator: ", "))): pin it in the configuration to choose; it is not opened")
        case .invalid(let error):
            return .refused("device \(identity.stableKey) at \(identity.portPath): \(error.message); it is not opened")
        case .claimed(let driver, let pinned, _):
            guard let manifest = manifests.first(where: { $0.id == driver }) else {
                return .refused("device \(identity.stableKey): driver '\(driver)' has no manifest")
            }
            let configured = pinned.flatMap { name in configuration.instruments.first { $0.name == name } }
            return .bound(DeviceBinding(name: pinned ?? defaultName(driver: driver, identity), manifest: manifest, configured: configured))
        }
    }

    /// `<driver>-<serial>` (or port path), lowercase letters, digits and '-' only.
    static func defaultName(driver: String, _ identity: DeviceIdentity) -> String {
        let suffix = (identity.serial.flatMap { $0.isEmpty ? nil : $0 } ?? identity.portPath).lowercased()
        let cleaned = String(suffix.map { ($0.isASCII && ($0.isLetter || $0.isNumber)) ? $0 : "-" })
        return "\(driver)-\(cleaned)"
    }

    /// How to reach the device through the manifest's transport: the serial port on its tty
    /// node, or the USB device from its identity. `nil` for a serial device whose tty node
    /// has not appeared yet (a later `changed` event brings it).
    func link(_ identity: DeviceIdentity, reactor: IOReactor) -> DeviceLink? {
        let transport = manifest.transport
        switch transport {
        case .serial:
            guard let node = identity.deviceNodes.first(where: { $0.hasPrefix("/dev/tty") }) else { return nil }
            return DeviceLink(identity: identity, location: node) {
                try DriverConnection.open(transport, node: node, reactor: reactor)
            }
        case .usb:
            return DeviceLink(identity: identity, location: "USB port \(identity.portPath)") {
                try DriverConnection.open(transport, identity: identity, usb: try USBContext.shared)
            }
        }
    }
}
