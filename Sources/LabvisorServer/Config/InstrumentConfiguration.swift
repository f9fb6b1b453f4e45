import LabvisorHardware

/// One `[[instrument]]` of the configuration: a name, its driver, how to find the device (a
/// pin) or `simulate`, tags, and per-instrument limits.
public struct InstrumentConfiguration: Sendable, Hashable {
    /// The stable name (`stage-x`).
    public var name: String
    /// The driver id.
    public var driver: String
    /// The device by USB serial number or port path; `nil` for a simulated instrument.
    public var pin: InstrumentPin?
    /// Run against this driver's simulator instead of hardware (`simulate = "<driver-id>"`).
    public var simulate: String?
    /// Free-form tags (requirement queries see them as `tags.<key>`).
    public var tags: [String: JSONValue]
    /// How long its driver stays open after the last user; `nil`: the daemon's default.
    public var linger: Duration?

    /// Reads one `[[instrument]]` table.
    init(_ section: inout TOMLSection) throws(LabvisorError) {
        name = try section.string("name", required: true)!
        guard DriverManifestParser.isValidID(name) else {
            throw section.error("name", "'\(name)' must be lowercase ASCII letters, digits and '-'")
        }
        driver = try section.string("driver", required: true)!
        let serial = try section.string("serial")
        let portPath = try section.string("port_path")
        simulate = try section.string("simulate")
        switch (serial, portPath, simulate) {
        case (let serial?, nil, nil): pin = InstrumentPin(instrument: name, driver: driver, selector: .serial(serial))
        case (nil, let portPath?, nil): pin = InstrumentPin(instrument: name, driver: driver, selector: .portPath(portPath))
        case (nil, nil, _?): pin = nil
        case (nil, nil, nil):
            throw section.error("name", "instrument '\(name)' needs a pin (serial or port_path) or simulate = \"<driver-id>\"")
        default:
            throw section.error("simulate", "give one of serial, port_path or simulate, not several")
        }
        if let simulate, simulate != driver {
            throw section.error("simulate", "'\(simulate)' differs from the instrument's driver '\(driver)'")
        }
        guard case .object(let members) = try section.json("tags") ?? .object([:]) else {
            throw section.error("tags", "expected a table, e.g. tags = { room = \"B12\" }")
        }
        self.tags = members
        linger = try section.double("linger", in: 0...86_400).map { .seconds($0) }
        try section.rejectUnknownKeys()
    }
}
