import ArgumentParser
import Foundation
import LabvisorHardware
import LabvisorServer
import Logging
import ServiceLifecycle

/// `labvisord`: the daemon. One `ServiceGroup`: the supervisor and the wire server; SIGTERM
/// or SIGINT stop accepting, shut every driver down to its safe state, and exit 0.
@main
struct Labvisord: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "labvisord", abstract: "The Labvisor daemon: serves lab instruments to experiment scripts.")

    @Flag(help: "Run every reference simulator in-process, behind the real drivers and transports.")
    var demo = false

    @Option(help: "The unix socket to listen on (default: the rule in docs/wire.md: LABVISOR_URL, else the runtime directory).")
    var socket: String?

    @Option(help: "The directory of driver folders (each with a driver.toml).")
    var drivers: String?

    @Flag(help: "Add the built-in loopback instrument (an `echo` method, for benchmarks and tests).")
    var loopback = false

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = ProcessInfo.processInfo.environment["LABVISOR_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
            return handler
        }
        let logger = Logger(label: "labvisord")
        let socketPath = try socket ?? {
            guard case .unix(let path) = try Endpoint.fromEnvironment() else {
                throw ValidationError("LABVISOR_URL names a TCP endpoint; labvisord listens on a unix socket: pass --socket PATH")
            }
            return path
        }()
        let supervisor = Supervisor(logger: logger)
        var demoInstruments: DemoInstruments?
        if demo {
            let manifests = try DriverManifestLoader.load(directory: drivers ?? Self.defaultDriverDirectory())
            demoInstruments = try DemoInstruments(supervisor: supervisor, manifests: manifests, logger: logger)
            logger.info("demo mode: \(supervisor.instrumentNames.joined(separator: ", "))")
        }
        if loopback { supervisor.addLoopback(logger: logger) }
        let server = RPCServer(supervisor: supervisor, socketPath: socketPath, demo: demo, logger: logger)
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [
                    .init(service: SupervisorService(supervisor: supervisor, demo: demoInstruments)),
                    .init(service: server),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
        logger.info("stopped; every driver was shut down to its safe state")
    }

    /// `drivers/` in the working directory (a source checkout), else the installed copy.
    static func defaultDriverDirectory() -> String {
        FileManager.default.fileExists(atPath: "drivers") ? "drivers" : "/usr/share/labvisor/drivers"
    }
}
