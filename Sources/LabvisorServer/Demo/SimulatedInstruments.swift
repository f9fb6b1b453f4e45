import LabvisorDriverKit
import LabvisorReferenceDrivers
import LabvisorSimulation
import Logging

/// The configuration's simulated instruments (`simulate = "<driver-id>"`; all of
/// `config/demo.toml` in `labvisord --demo`): each simulator runs in-process on a PTY, and
/// the real driver opens it through the real serial port code, so everything but the hardware
/// is real.
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
                guard case .serial(let transport) = manifest.transport else {
                    throw LabvisorError(.invalidArgument, "\(where_): only serial instruments can be simulated on a PTY today")
                }
                let driver = try ReferenceDrivers.drivers.entry(id)
                let simulator = try ReferenceDrivers.simulators.entry(id).start(reactor)
                simulators[instrument.name] = simulator
                let path = simulator.path
                supervisor.add(ManagedInstrument(
                    name: instrument.name, kind: manifest.kind.rawValue, driver: driver, tags: instrument.tags, simulated: true,
                    linger: instrument.linger ?? configuration.defaultLinger, events: supervisor.events, logger: logger,
                    connect: { try DriverConnection.open(.serial(transport), node: path, reactor: reactor) }))
            }
        } catch {
            for simulator in simulators.values { simulator.stop() }
            throw error
        }
        self.simulators = simulators
    }

    /// Stops every simulator.
    public func stop() {
        for simulator in simulators.values { simulator.stop() }
    }
}
