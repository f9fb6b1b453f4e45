import LabvisorDriverKit

/// The Acme TC-1 temperature controller: a heater with a set-point and a thermometer,
/// spoken to in text lines (`*IDN?`, `TEMP?`, `SETP 40`, `HEAT ON`). See README.md.
public actor ExampleHeaterDriver: InstrumentDriver {
    public static let driverID = "example-heater"

    static let target = Argument<Double>("celsius", "temperature to reach", unit: "°C", range: 0...150)
    static let tolerance = Argument<Double>("tolerance", "how close counts as reached", unit: "°C", range: 0.01...10, default: 0.5)

    public static let methods: [DriverMethod<ExampleHeaterDriver>] = [
        DriverMethod("heatOn", "starts heating towards the set-point") { heater, _ in try await heater.command("HEAT ON") },
        DriverMethod("heatOff", "stops heating", immediate: true) { heater, _ in try await heater.command("HEAT OFF") },
        DriverMethod("rampTo", "sets the set-point, heats, and returns once the temperature is within tolerance",
            arguments: [target, tolerance], unit: "°C"
        ) { heater, arguments in
            try await heater.ramp(to: arguments[target], within: arguments[tolerance])
        },
    ]

    public static let properties: [DriverProperty<ExampleHeaterDriver>] = [
        DriverProperty("temperature", "measured temperature", unit: "°C") { heater in try await heater.number("TEMP?") },
        DriverProperty("setpoint", "temperature the heater regulates to", unit: "°C", range: 0...150,
            get: { heater in try await heater.number("SETP?") },
            set: { heater, celsius in try await heater.command("SETP \(celsius)") }),
        DriverProperty("heating", "whether the heater is on") { heater in try await heater.query("HEAT?") == "ON" },
    ]

    private let channel: LineChannel
    private let context: DriverContext

    public init(context: DriverContext) async throws {
        self.context = context
        channel = try context.lineChannel(timeout: .seconds(2))
    }

    public func identify() async throws -> InstrumentIdentification {
        let fields = try await query("*IDN?").split(separator: ",").map(String.init)
        guard fields.count == 4, fields[0] == "ACME" else {
            throw LabvisorError(.driverFault, "not an Acme controller: *IDN? answered \(fields.joined(separator: ","))")
        }
        return InstrumentIdentification(model: fields[1], serialNumber: fields[2], firmware: fields[3])
    }

    public func shutdown() async throws { try await command("HEAT OFF") }

    /// Heats to `celsius`, polling every 50 ms; cancelled by a deadline or by `heatOff`.
    func ramp(to celsius: Double, within tolerance: Double) async throws -> Double {
        try await command("SETP \(celsius)")
        try await command("HEAT ON")
        while true {
            let temperature = try await number("TEMP?")
            context.publish(property: "temperature", value: .double(temperature))
            if abs(temperature - celsius) <= tolerance { return temperature }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Sends a query; an `ERR <n> <text>` reply becomes the matching error.
    func query(_ text: String) async throws -> String {
        let reply = try await channel.query(text)
        guard reply.hasPrefix("ERR") else { return reply }
        let code = reply.split(separator: " ").dropFirst().first.map(String.init) ?? "?"
        throw LabvisorError(
            code == "2" ? .invalidArgument : .driverFault, "the TC-1 rejected '\(text)': \(reply)",
            fields: ["command": .string(text), "reply": .string(reply), "deviceError": .string(code)])
    }

    func command(_ text: String) async throws {
        let reply = try await query(text)
        guard reply == "OK" else { throw garbage(text, reply) }
    }

    func number(_ text: String) async throws -> Double {
        let reply = try await query(text)
        guard let value = Double(reply) else { throw garbage(text, reply) }
        return value
    }

    private func garbage(_ text: String, _ reply: String) -> LabvisorError {
        LabvisorError(.driverFault, "unexpected reply to '\(text)': '\(reply)'", fields: ["command": .string(text), "reply": .string(reply)])
    }
}
