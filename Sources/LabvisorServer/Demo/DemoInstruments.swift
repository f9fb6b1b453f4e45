import LabvisorDriverKit
import LabvisorReferenceDrivers
import LabvisorSimulation
import Logging

/// Demo mode (`labvisord --demo`): every reference simulator runs in-process on a PTY and
/// the real driver talks to it through the real serial port code, so everything but the
/// hardware is real.
public final class DemoInstruments: Sendable {
    /// The running simulators, by instrument name.
    public let simulators: [String: any RunningSimulator]

    /// Starts one simulator per reference driver that has one (and a serial manifest in
    /// `manifests`) and adds an instrument for it to `supervisor`, named `<driver-id>-sim`
    /// and tagged `demo: true`.
    public init(supervisor: Supervisor, manifests: [DriverManifest], reactor: IOReactor = .shared, logger: Logger) throws {
        var simulators: [String: any RunningSimulator] = [:]
        let manifests = Dictionary(manifests.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        for id in ReferenceDrivers.simulators.ids {
            guard let driver = ReferenceDrivers.drivers.entries[id], let manifest = manifests[id] else { continue }
            guard case .serial(let transport) = manifest.transport else { continue }
            let simulator = try ReferenceDrivers.simulators.entry(id).start(reactor)
            let name = "\(id)-sim"
            simulators[name] = simulator
            let path = simulator.path
            supervisor.add(ManagedInstrument(
                name: name, kind: manifest.kind.rawValue, driver: driver,
                tags: ["demo": true], simulated: true, events: supervisor.events, logger: logger,
                connect: { try DriverConnection.open(.serial(transport), node: path, reactor: reactor) }))
        }
        self.simulators = simulators
    }

    /// Stops every simulator.
    public func stop() {
        for simulator in simulators.values { simulator.stop() }
    }
}
