import LabvisorDriverKit

/// Coherent OBIS lasers: SCPI-style commands over a USB CDC-ACM serial port. Emission on/off,
/// power set-point and measured power, status and fault bits. See README.md.
///
/// At open the driver turns handshaking on (`SYSTem:COMMunicate:HANDshaking ON`, the device's
/// default) so that every command is answered by `OK` or `ERR-xxx` and errors are never silent,
/// turns the prompt off, empties the error queue, and reads the set-point limits. Its safe
/// state is emission off.
public actor CoherentOBISDriver: InstrumentDriver {
    /// The manifest id (`drivers/coherent-obis/driver.toml`).
    public static let driverID = "coherent-obis"

    /// The widest set-point any OBIS model accepts; the open device's own limits
    /// (`SOURce:POWer:LIMit:LOW?`/`HIGH?`) are checked by the driver before the device.
    static let setpointRange = 0.0...2.0
    static let tolerance = Argument<Double>(
        "tolerance", "how close to the set-point counts as reached, as a fraction of it", range: 0.001...0.5, default: 0.02)

    /// Emission on and off (off is immediate), waiting for the set power, clearing errors.
    public static let methods: [DriverMethod<CoherentOBISDriver>] = [
        DriverMethod("emissionOn", "turns laser emission on, in constant-power mode") { laser, _ in
            try await laser.setEmission(true)
        },
        DriverMethod("emissionOff", "turns laser emission off at once (the safe state)", immediate: true) { laser, _ in
            try await laser.setEmission(false)
        },
        DriverMethod(
            "waitForPower", "waits until the measured power is within tolerance of the set-point and returns it",
            access: .observe, arguments: [tolerance], unit: "W"
        ) { laser, arguments in
            try await laser.waitForPower(within: arguments[tolerance])
        },
        DriverMethod("clearErrors", "empties the device's error queue (SYSTem:ERRor:CLEar)") { laser, _ in
            try await laser.command("SYSTem:ERRor:CLEar")
        },
    ]

    /// Emission, set-point and measured power, limits, status, faults, wavelength.
    public static let properties: [DriverProperty<CoherentOBISDriver>] = [
        DriverProperty(
            "emission", "whether the laser emits",
            get: { laser in try await laser.query("SOURce:AM:STATe?") == "ON" },
            set: { laser, on in try await laser.setEmission(on) }),
        DriverProperty(
            "powerSetpoint", "output power the laser regulates to (within powerLimits)", unit: "W", range: setpointRange,
            get: { laser in try await laser.number("SOURce:POWer:LEVel:IMMediate:AMPLitude?") },
            set: { laser, watts in try await laser.setSetpoint(watts) }),
        DriverProperty("measuredPower", "output power measured by the laser", unit: "W") { laser in
            try await laser.measuredPower()
        },
        DriverProperty("powerLimits", "set-point range and nominal power, W: {low, high, nominal}") { laser in
            await laser.limits.json
        },
        DriverProperty("status", "decoded SYSTem:STATus? bits, and the raw code") { laser in
            OBISBits.statusObject(try await laser.bits("SYSTem:STATus?"))
        },
        DriverProperty("faults", "names of the fault bits set in SYSTem:FAULt? (empty: no fault)") { laser in
            JSONValue.array(OBISBits.names(of: try await laser.bits("SYSTem:FAULt?"), in: OBISBits.faults).map { .string($0) })
        },
        DriverProperty("wavelength", "emission wavelength", unit: "nm") { laser in await laser.wavelength },
    ]

    /// The set-point range read at open.
    struct PowerLimits: Sendable {
        var low: Double
        var high: Double
        var nominal: Double
        var json: JSONValue { .object(["low": .double(low), "high": .double(high), "nominal": .double(nominal)]) }
    }

    private let channel: LineChannel
    private let context: DriverContext
    private var limits = PowerLimits(low: 0, high: 0, nominal: 0)
    private var wavelength = 0.0

    /// Opens the laser: handshaking on, prompt off, error queue emptied, limits and
    /// wavelength read. Emission is left as it is.
    public init(context: DriverContext) async throws {
        self.context = context
        channel = try context.lineChannel(lineEnding: "\r\n", timeout: .seconds(2))
        try await command("SYSTem:COMMunicate:HANDshaking ON")
        try await command("SYSTem:COMMunicate:PROMpt OFF")
        try await command("SYSTem:ERRor:CLEar")
        limits = PowerLimits(
            low: try await number("SOURce:POWer:LIMit:LOW?"), high: try await number("SOURce:POWer:LIMit:HIGH?"),
            nominal: try await number("SOURce:POWer:NOMinal?"))
        guard limits.low <= limits.high else {
            throw LabvisorError(
                .driverFault, "the OBIS laser \(context.instrument) reports a power range \(limits.low)...\(limits.high) W that is empty")
        }
        wavelength = try await number("SYSTem:INFormation:WAVelength?")
    }

    /// Model and serial number from `SYSTem:INFormation`, firmware from `*IDN?`.
    ///
    /// - Throws: `driverFault` when `*IDN?` does not name a Coherent OBIS.
    public func identify() async throws -> InstrumentIdentification {
        let idn = try await query("*IDN?")
        // "Coherent, Inc - OBIS 488nm LX 150mW - V1.0.1 - Dec 14 2010"
        let fields = idn.split(separator: " - ", omittingEmptySubsequences: false).map(String.init)
        guard idn.hasPrefix("Coherent"), idn.contains("OBIS"), fields.count >= 3 else {
            throw LabvisorError(
                .driverFault, "the device on \(channel.path) is not a Coherent OBIS laser: *IDN? answered '\(idn)'",
                fields: ["reply": .string(idn)])
        }
        return InstrumentIdentification(
            model: try await query("SYSTem:INFormation:MODel?"), serialNumber: try await query("SYSTem:INFormation:SNUMber?"),
            firmware: fields[2],
            details: [
                "idn": .string(idn), "wavelength": .double(wavelength), "powerLimits": limits.json,
            ])
    }

    /// Emission off: the laser's safe state.
    public func shutdown() async throws { try await setEmission(false) }

    // MARK: - Operations

    /// Turns emission on (in constant-power mode) or off. On fails with `driverFault` naming
    /// the faults when a latched fault keeps the laser off.
    func setEmission(_ on: Bool) async throws {
        guard on else {
            try await command("SOURce:AM:STATe OFF")
            context.publish(property: "emission", value: false)
            return
        }
        if try await query("SOURce:AM:SOURce?") != "CWP" {
            try await command("SOURce:AM:INTernal CWP")
        }
        try await command("SOURce:AM:STATe ON")
        let faults = try await bits("SYSTem:FAULt?")
        guard faults == 0 else {
            let names = OBISBits.names(of: faults, in: OBISBits.faults)
            throw LabvisorError(
                .driverFault, "the OBIS laser \(context.instrument) cannot emit: fault \(names.joined(separator: ", "))",
                fields: ["faults": .array(names.map { .string($0) }), "faultCode": .string(OBISBits.hex(faults))])
        }
        context.publish(property: "emission", value: true)
    }

    /// Sets the power set-point after checking it against the device's limits.
    func setSetpoint(_ watts: Double) async throws {
        guard watts >= limits.low, watts <= limits.high else {
            var error = LabvisorError.invalidArgument(
                "powerSetpoint", "\(watts) W is outside this laser's range \(limits.low)...\(limits.high) W")
            error.fields["minimum"] = .double(limits.low)
            error.fields["maximum"] = .double(limits.high)
            throw error
        }
        try await command("SOURce:POWer:LEVel:IMMediate:AMPLitude \(watts)", argument: "powerSetpoint")
    }

    /// The measured output power, published as `measuredPower`.
    func measuredPower() async throws -> Double {
        let watts = try await number("SOURce:POWer:LEVel?")
        context.publish(property: "measuredPower", value: .double(watts))
        return watts
    }

    /// Polls the measured power every 50 ms until it is within `tolerance` (a fraction) of
    /// the set-point; cancelled by a deadline or by `emissionOff`. Fails with `driverFault`
    /// when emission stops or a fault latches meanwhile.
    func waitForPower(within tolerance: Double) async throws -> Double {
        let setpoint = try await number("SOURce:POWer:LEVel:IMMediate:AMPLitude?")
        while true {
            let status = try await bits("SYSTem:STATus?")
            guard status & 0b10 != 0 else {
                let faults = try await bits("SYSTem:FAULt?")
                let names = OBISBits.names(of: faults, in: OBISBits.faults)
                throw LabvisorError(
                    .driverFault,
                    "the OBIS laser \(context.instrument) is not emitting"
                        + (names.isEmpty ? "" : ": fault \(names.joined(separator: ", "))"),
                    fields: ["faults": .array(names.map { .string($0) }), "status": .string(OBISBits.hex(status))])
            }
            let watts = try await measuredPower()
            if abs(watts - setpoint) <= tolerance * setpoint { return watts }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    // MARK: - Protocol

    /// Sends `text` and returns its reply lines: `[value, "OK"]` for a query, `["OK"]` for a
    /// command. An `ERR-xxx` reply becomes the matching error (`argument` names the value an
    /// `ERR-220` rejects).
    private func exchange(_ text: String, argument: String?) async throws -> [String] {
        let isQuery = text.hasSuffix("?")
        var count = 0
        let lines = try await channel.query(text) { line in
            count += 1
            return line == "OK" || OBISDeviceError.code(in: line) != nil || !isQuery || count >= 2 || !Self.isPrintable(line)
        }
        if let last = lines.last, let code = OBISDeviceError.code(in: last) {
            throw OBISDeviceError.error(last, code: code, command: text, instrument: context.instrument, argument: argument)
        }
        guard lines.last == "OK", lines.count == (isQuery ? 2 : 1) else {
            throw LabvisorError(
                .driverFault, "unexpected reply to '\(text)' from the OBIS laser \(context.instrument): \(lines)",
                fields: ["command": .string(text), "reply": .string(lines.joined(separator: "\n"))])
        }
        return lines
    }

    /// Whether `line` is printable ASCII, as every OBIS reply is (anything else is noise).
    private static func isPrintable(_ line: String) -> Bool {
        line.unicodeScalars.allSatisfy { (0x20...0x7E).contains($0.value) }
    }

    func command(_ text: String, argument: String? = nil) async throws {
        _ = try await exchange(text, argument: argument)
    }

    func query(_ text: String) async throws -> String {
        try await exchange(text, argument: nil)[0]
    }

    func number(_ text: String) async throws -> Double {
        let reply = try await query(text)
        guard let value = Double(reply.trimmingPrefix(" ")) else { throw garbage(text, reply) }
        return value
    }

    func bits(_ text: String) async throws -> UInt32 {
        let reply = try await query(text)
        guard let value = OBISBits.parse(reply) else { throw garbage(text, reply) }
        return value
    }

    private func garbage(_ text: String, _ reply: String) -> LabvisorError {
        LabvisorError(
            .driverFault, "unexpected reply to '\(text)' from the OBIS laser \(context.instrument): '\(reply)'",
            fields: ["command": .string(text), "reply": .string(reply)])
    }
}
