import LabvisorCore

/// Decides which driver claims a device, from the manifests and the configuration's pins
/// alone: a pure function, no I/O, no driver code.
///
/// The order of precedence:
///
/// 1. Pins. A pin selecting the device (by serial or port path) decides, whatever the
///    manifests say; its driver must exist among `manifests`, else the result is
///    `.invalid(notFound)` naming the pin's instrument and driver. Two or more pins
///    selecting the same device are `.invalid(invalidArgument)` naming them: no silent pick.
/// 2. Manifest rules. The drivers with at least one matching rule are collected. Exactly
///    one: it claims the device. Two or more: `.ambiguous`, whatever their rules look like.
///    There is deliberately no specificity ranking (a VID:PID:serial rule does not beat a
///    VID:PID rule): two drivers claiming one device is a conflict for a person to settle
///    with a pin.
/// 3. Otherwise `.unclaimed`.
public enum DeviceMatcher {
    /// The claim on `identity`.
    public static func claim(
        _ identity: DeviceIdentity, manifests: [DriverManifest], pins: [InstrumentPin] = []
    ) -> DeviceClaim {
        let selecting = pins.filter { $0.matches(identity) }
        if selecting.count > 1 {
            let names = selecting.map(\.instrument)
            return .invalid(
                LabvisorError(
                    .invalidArgument,
                    "instruments \(names.map { "'\($0)'" }.joined(separator: ", ")) are all pinned to device \(identity.stableKey)",
                    fields: ["instruments": .array(names.map(JSONValue.string)), "device": .string(identity.stableKey)]))
        }
        if let pin = selecting.first {
            guard manifests.contains(where: { $0.id == pin.driver }) else {
                return .invalid(
                    LabvisorError(
                        .notFound,
                        "instrument '\(pin.instrument)' is pinned to driver '\(pin.driver)', which no manifest declares",
                        fields: [
                            "kind": .string("driver"), "name": .string(pin.driver), "instrument": .string(pin.instrument),
                        ]))
            }
            return .claimed(driver: pin.driver, instrumentName: pin.instrument, by: .pin(pin))
        }

        var matches: [(driver: String, rule: Int)] = []
        for manifest in manifests {
            if let rule = manifest.firstMatchingRule(identity) { matches.append((manifest.id, rule)) }
        }
        switch matches.count {
        case 0: return .unclaimed
        case 1: return .claimed(driver: matches[0].driver, instrumentName: nil, by: .rule(index: matches[0].rule))
        default: return .ambiguous(Array(Set(matches.map(\.driver))).sorted())
        }
    }
}
