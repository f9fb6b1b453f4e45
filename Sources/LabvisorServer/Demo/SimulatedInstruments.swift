import LabvisorDriverKit
import LabvisorReferenceDrivers
import LabvisorSimulation
import Logging

/// The configuration's simulated instruments (`simulate = "<driver-id>"`; all of
/// `config/demo.toml` in `labvisord --demo`): each serial simulator runs in-process on a PTY,
/// and the real driver opens it through the real serial port code, so everything but the
/// hardware is real. A USB simulator (the UVC camera) is served in-process behind the
/// `USBDeviceIO` interface (`InProcessUSBDevice`): the real driver, without libusb.
public final class SimulatedInstruments: Sendable {
    /// The running simulators, by instrument name.
    public let simulators: [String: any RunningSimulator]

    /// Starts a simulator for every instrument of `configuration` with `simulate`, and adds
    /// the instrument to `supervisor`.
    ///
    /// - Throws: `notFound` naming the instrument when its driver has no manifest, no driver
    ///   or no simulator; `invalidArgument` when its manifest's transport is not serial.
    public init(
        supervisor: Supervisor, configuration: DaemonConfiguration, manifests: [DriverManifest], reactor: IOReactor = .shared,
        logger: Logger
    ) throws {
        let manifests = Dictionary(manifests.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var simulators: [String: any RunningSimulator] = [:]
        do {
            for instrument in configuration.instruments {
                guard let id = instrument.simulate else { continue }
                let where_ = "instrument '\(instrument.name)' (simulate = \"\(id)\")"
                guard let manifest = manifests[id] else {
                    throw LabvisorError(.notFound, "\(where_): no driver manifest '\(id)' in the driver search path")
                }
                let driver = try ReferenceDrivers.drivers.entry(id)
                guard case .serial(let transport) = manifest.transport else {
                    guard case .usb(let settings) = manifest.transport else { continue }
                    // No umockdev testbed in the daemon: the device's model answers in-process,
                    // behind the same USBDeviceIO interface libusb devices have.
                    let simulation = try ReferenceDrivers.usbSimulators.entry(id).make()
                    supervisor.add(ManagedInstrument(
                        name: instrument.name, kind: manifest.kind.rawValue, driver: driver, tags: instrument.tags, simulated: true,
                        simulation: Self.inProcessUSB, linger: instrument.linger ?? configuration.defaultLinger,
                        events: supervisor.events, logger: logger,
                        connect: { .usb(InProcessUSBDevice(descriptors: simulation.descriptors, behavior: simulation.behavior), settings) }))
                    continue
                }
                let simulator = try ReferenceDrivers.simulators.entry(id).start(reactor)
                simulators[instrument.name] = simulator
                let path = simulator.path
                supervisor.add(ManagedInstrument(
                    name: instrument.name, kind: manifest.kind.rawValue, driver: driver, tags: instrument.tags, simulated: true,
                    simulation: "in-process serial simulator on a PTY pair (\(path))",
                    linger: instrument.linger ?? configuration.defaultLinger, events: supervisor.events, logger: logger,
                    connect: { try DriverConnection.open(.serial(transport), node: path, reactor: reactor) }))
            }
        } catch {
            for simulator in simulators.values { simulator.stop() }
            throw error
        }
        self.simulators = simulators
    }

    /// How a simulated USB instrument runs, as `daemon.status` says it.
    public static let inProcessUSB =
        "in-process USB simulator behind the USBDeviceIO interface (the daemon does not run under umockdev; bulk paced at USB 2.0 rate)"

    /// Stops every simulator.
    public func stop() {
        for simulator in simulators.values { simulator.stop() }
    }
}
