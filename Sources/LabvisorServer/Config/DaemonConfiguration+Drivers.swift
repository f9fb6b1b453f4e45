import Foundation
import LabvisorHardware
import LabvisorReferenceDrivers

extension DaemonConfiguration {
    /// Reads `file` and the driver manifests on its search path (`drivers` first), and checks
    /// that every instrument's driver is installed and built in, and that every simulated
    /// instrument has a simulator: what `labvisord` does at start, `--check-config` and a
    /// configuration reload.
    ///
    /// - Throws: as `load(_:)`; the manifests' errors; `invalidArgument` naming the file, the
    ///   instrument and the driver that is not installed; `notFound` for a missing simulator.
    public static func loadWithDrivers(
        _ file: String, drivers: String?
    ) throws(LabvisorError) -> (configuration: DaemonConfiguration, manifests: [DriverManifest]) {
        let configuration = try DaemonConfiguration.load(file)
        let searchPath = (drivers.map { [$0] } ?? []) + configuration.driverSearchPath
        let manifests = try DriverManifestLoader.load(searchPath: searchPath.filter { FileManager.default.fileExists(atPath: $0) })
        let known = Set(manifests.map(\.id))
        for instrument in configuration.instruments
        where !known.contains(instrument.driver) || ReferenceDrivers.drivers.entries[instrument.driver] == nil {
            throw LabvisorError(
                .invalidArgument,
                "configuration \(file): instrument '\(instrument.name)' names driver '\(instrument.driver)', which is not installed (drivers: \(known.sorted().joined(separator: ", ")); search path: \(searchPath.joined(separator: ", ")))",
                fields: ["file": .string(file), "key": "instrument.driver", "instrument": .string(instrument.name)])
        }
        for instrument in configuration.instruments {
            try SimulatedInstruments.check(instrument, manifests: manifests)
        }
        return (configuration, manifests)
    }
}
