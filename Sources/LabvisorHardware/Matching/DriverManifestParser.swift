import LabvisorCore
import TOMLKit

/// Parses and validates `driver.toml` text into a `DriverManifest`.
///
/// Validation is strict: an unknown key anywhere is an error (a typo must not pass
/// silently), and so is a value of the wrong type or out of range. Every error is a
/// `LabvisorError.invalidManifest` naming the file, the key path and the reason. TOMLKit
/// gives line numbers for syntax errors only; for other errors the line is looked up in the
/// text (`TOMLKeyLocator`) and given only when the key occurs on exactly one line.
///
/// The format (see `drivers/*/driver.toml` for real ones):
///
/// ```toml
/// id = "thorlabs-apt"              # = the folder name; lowercase letters, digits, '-'
/// kind = "stage"                   # stage | laser | camera | sensor | other
/// description = "Thorlabs APT / Kinesis motion controllers"
///
/// [[match]]                        # any rule may match; all fields of one rule must hold
/// vendor_id = "0403"               # 4 hex digits
/// product_id = "faf0"              # 4 hex digits
/// # serial, manufacturer, product  # globs (MatchPattern): "83*", "Zaber*"
/// # interface_class = 0x0e         # integer 0...255: one interface of the device has it
/// # udev_property = "NAME=VALUE"   # VALUE is a glob
///
/// [transport]
/// kind = "serial"                  # serial | usb
/// baud = 115200                    # serial: baud (required), data_bits 5...8 (8),
/// flow_control = "rts_cts"         #   parity none|even|odd|mark|space (none), stop_bits 1|2 (1),
///                                  #   flow_control none|rts_cts|xon_xoff (none),
///                                  #   line_ending "\n"|"\r\n"|"\r" (absent: binary protocol)
///                                  # usb: interface, interface_class, endpoint_in, endpoint_out,
///                                  #   detach_kernel_driver (all optional)
/// [safe_state]
/// description = "motion stopped"   # required
/// method = "stop"                  # optional: the driver method the daemon calls
/// ```
public enum DriverManifestParser {
    /// Parses `text`. `file` names the manifest in errors. When `folderName` is given, the
    /// manifest's `id` must equal it.
    public static func parse(_ text: String, file: String, folderName: String? = nil) throws(LabvisorError)
        -> DriverManifest
    {
        try TOMLSection.parse(text, file: file, document: "driver manifest") { (root) throws(LabvisorError) in
            try manifest(&root, file: file, folderName: folderName)
        }
    }

    private static func manifest(_ root: inout TOMLSection, file: String, folderName: String?) throws(LabvisorError)
        -> DriverManifest
    {
        let id = try root.string("id", required: true)!
        guard isValidID(id) else {
            throw root.error("id", "'\(id)' must be lowercase ASCII letters, digits and '-', starting with a letter or digit")
        }
        if let folderName, folderName != id {
            throw root.error("id", "'\(id)' differs from the driver's folder name '\(folderName)'")
        }
        let kindName = try root.choice("kind", required: true, allowed: DriverKind.allCases.map(\.rawValue))!
        let description = try root.string("description", required: true)!
        var rules: [DriverMatchRule] = []
        for var section in try root.sections("match") {
            rules.append(try matchRule(&section))
        }
        var transportSection = try root.section("transport", required: true)!
        let transport = try self.transport(&transportSection)
        var safeStateSection = try root.section("safe_state", required: true)!
        let safeState = try self.safeState(&safeStateSection)
        try root.rejectUnknownKeys()

        return DriverManifest(
            id: id, kind: DriverKind(rawValue: kindName)!, description: description, matchRules: rules,
            transport: transport, safeState: safeState, file: file)
    }

    /// Whether `id` is a valid driver id or instrument name: lowercase ASCII letters, digits
    /// and '-', not starting with '-'.
    public static func isValidID(_ id: String) -> Bool {
        guard let first = id.first, first != "-" else { return false }
        return id.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }
    }

    private static func matchRule(_ section: inout TOMLSection) throws(LabvisorError) -> DriverMatchRule {
        var rule = DriverMatchRule()
        for key in ["vendor_id", "product_id"] {
            guard let text = try section.string(key) else { continue }
            guard let normalized = HexIdentifier.normalized(text) else {
                throw section.error(key, "'\(text)' is not 4 hex digits (write \"0403\", not \"0x0403\")")
            }
            if key == "vendor_id" { rule.vendorID = normalized } else { rule.productID = normalized }
        }
        rule.serial = try pattern(&section, "serial")
        rule.manufacturer = try pattern(&section, "manufacturer")
        rule.product = try pattern(&section, "product")
        rule.interfaceClass = try section.int("interface_class", in: 0...255).map(UInt8.init)
        if let text = try section.string("udev_property") {
            do {
                rule.udevProperty = try UdevPropertyMatch(text)
            } catch {
                throw section.error("udev_property", error.reason)
            }
        }
        try section.rejectUnknownKeys()
        if rule.isEmpty {
            throw LabvisorError.invalidManifest(
                file: section.file, key: section.path, reason: "a match rule needs at least one condition")
        }
        return rule
    }

    private static func pattern(_ section: inout TOMLSection, _ key: String) throws(LabvisorError) -> MatchPattern? {
        guard let text = try section.string(key) else { return nil }
        do {
            return try MatchPattern(text)
        } catch {
            throw section.error(key, "bad pattern '\(text)': \(error.reason)")
        }
    }

    private static func transport(_ section: inout TOMLSection) throws(LabvisorError) -> DriverTransport {
        let kind = try section.choice("kind", required: true, allowed: ["serial", "usb"])!
        let transport: DriverTransport
        if kind == "serial" {
            let baud = try section.int("baud", required: true, in: 50...20_000_000)!
            let dataBits = try section.int("data_bits", in: 5...8) ?? 8
            let parity = try section.choice("parity", allowed: SerialSettings.Parity.allCases.map(\.rawValue))
            let stopBits = try section.int("stop_bits", in: 1...2) ?? 1
            // The manifest spells flow control in snake case.
            let flowNames: [String: SerialSettings.FlowControl] = ["none": .none, "rts_cts": .rtsCts, "xon_xoff": .xonXoff]
            let flow = try section.choice("flow_control", allowed: flowNames.keys.sorted())
            let lineEnding = try section.string("line_ending")
            if let lineEnding, !["\n", "\r\n", "\r"].contains(lineEnding) {
                throw section.error(
                    "line_ending", "'\(lineEnding.debugDescription)' is not one of \"\\n\", \"\\r\\n\", \"\\r\"")
            }
            let settings = SerialSettings(
                baudRate: baud, dataBits: dataBits, parity: parity.flatMap(SerialSettings.Parity.init) ?? .none,
                stopBits: stopBits == 2 ? .two : .one, flowControl: flow.flatMap { flowNames[$0] } ?? .none)
            transport = .serial(SerialTransport(settings: settings, lineEnding: lineEnding))
        } else {
            transport = .usb(
                USBSettings(
                    interface: try section.int("interface", in: 0...255),
                    interfaceClass: try section.int("interface_class", in: 0...255).map(UInt8.init),
                    endpointIn: try section.int("endpoint_in", in: 0x80...0x8f).map(UInt8.init),
                    endpointOut: try section.int("endpoint_out", in: 0x00...0x0f).map(UInt8.init),
                    detachKernelDriver: try section.bool("detach_kernel_driver") ?? false))
        }
        try section.rejectUnknownKeys()
        return transport
    }

    private static func safeState(_ section: inout TOMLSection) throws(LabvisorError) -> SafeState {
        let description = try section.string("description", required: true)!
        let method = try section.string("method")
        if let method, method.isEmpty || !method.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) {
            throw section.error("method", "'\(method)' is not a method name (ASCII letters, digits, '_')")
        }
        try section.rejectUnknownKeys()
        return SafeState(description: description, method: method)
    }
}
