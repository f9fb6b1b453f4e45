import LabvisorDriverKit
import LabvisorServer

/// A device the test plugs in and pulls out, found by its driver through the instrument's name.
final class PluggableDevice: Sendable {
    private struct State {
        var plugged = true
        var opens = 0
        var shutdowns = 0
    }

    private static let registry = LockedState<[String: PluggableDevice]>([:])
    private let state = LockedState(State())

    /// The device of `instrument`, created on first use.
    static func named(_ instrument: String) -> PluggableDevice {
        registry.withLock { registry in
            if let device = registry[instrument] { return device }
            let device = PluggableDevice()
            registry[instrument] = device
            return device
        }
    }

    var plugged: Bool {
        get { state.withLock { $0.plugged } }
        set { state.withLock { $0.plugged = newValue } }
    }

    /// How many times a driver opened it.
    var opens: Int { state.withLock { $0.opens } }

    /// How many times a driver shut it down.
    var shutdowns: Int { state.withLock { $0.shutdowns } }

    func opened() { state.withLock { $0.opens += 1 } }

    func shutDown() { state.withLock { $0.shutdowns += 1 } }

    /// Talks to the device: `deviceGone` once it is pulled out, as a serial port reports a hang-up.
    func touch(by instrument: String) throws(LabvisorError) -> Int {
        try state.withLock { state throws(LabvisorError) -> Int in
            guard state.plugged else { throw LabvisorError(.deviceGone, "the device of \(instrument) hung up") }
            return state.opens
        }
    }
}

/// The driver of a `PluggableDevice`: `hold` keeps the queue busy (publishing `holding`
/// when it starts), `touch` talks to the device.
actor PluggableDriver: InstrumentDriver {
    static let driverID = "pluggable"

    static let methods: [DriverMethod<PluggableDriver>] = [
        DriverMethod("hold", "publishes `holding`, then waits until cancelled") { driver, _ in
            await driver.startHolding()
            try await Task.sleep(for: .seconds(600))
        },
        DriverMethod("touch", "talks to the device; returns which open of the driver this is", access: .observe) { driver, _ in
            try await driver.touch()
        },
    ]

    static let properties: [DriverProperty<PluggableDriver>] = []

    private let context: DriverContext
    private let device: PluggableDevice

    init(context: DriverContext) async throws {
        self.context = context
        device = PluggableDevice.named(context.instrument)
        _ = try device.touch(by: context.instrument)
        device.opened()
    }

    func identify() async throws -> InstrumentIdentification {
        InstrumentIdentification(model: "pluggable", serialNumber: "P1", firmware: "1")
    }

    func shutdown() async throws {
        device.shutDown()
        _ = try device.touch(by: context.instrument)
    }

    private func startHolding() {
        context.publish(property: "holding", value: true)
    }

    private func touch() throws -> Int {
        try device.touch(by: context.instrument)
    }
}
