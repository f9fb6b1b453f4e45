import LabvisorDriverKit

/// The daemon's built-in loopback instrument (`labvisord --loopback`): no hardware, no
/// transport. `echo` returns its argument, so benchmarks and tests measure the daemon and the
/// wire alone; `sleep` holds the call queue for a while (deadlines, immediate calls).
public actor LoopbackDriver: InstrumentDriver {
    public static let driverID = "loopback"

    static let value = Argument<JSONValue>("value", "returned as it is", default: .null)
    static let seconds = Argument<Double>("seconds", "how long", unit: "s", range: 0...3600)

    public static let methods: [DriverMethod<LoopbackDriver>] = [
        DriverMethod("echo", "returns its argument", access: .observe, arguments: [value]) { _, arguments in
            try arguments[value]
        },
        DriverMethod("sleep", "holds the instrument's queue for a while", arguments: [seconds]) { _, arguments in
            try await Task.sleep(for: .seconds(try arguments[seconds]))
        },
        DriverMethod("stop", "interrupts a sleep", immediate: true) { _, _ in },
    ]

    public static let properties: [DriverProperty<LoopbackDriver>] = [
        DriverProperty("version", "the daemon's version") { _ in LabvisorVersion.current }
    ]

    public init(context: DriverContext) async throws {}

    public func identify() async throws -> InstrumentIdentification {
        InstrumentIdentification(model: "loopback", serialNumber: nil, firmware: LabvisorVersion.current)
    }

    public func shutdown() async throws {}
}

extension Supervisor {
    /// Adds the loopback instrument, named `loopback`.
    public func addLoopback(logger: Logger) {
        add(ManagedInstrument(
            name: "loopback", kind: "other", driver: DriverCatalog.Entry(LoopbackDriver.self), tags: ["builtin": true],
            simulated: true, events: events, logger: logger, connect: { .none }))
    }
}
