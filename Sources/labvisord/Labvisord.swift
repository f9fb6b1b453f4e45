import ArgumentParser
import Foundation
import LabvisorHardware
import LabvisorReferenceDrivers
import LabvisorServer
import Logging
import Metrics
import Prometheus
import ServiceLifecycle

/// `labvisord`: the daemon. One `ServiceGroup`: discovery, the supervisor, the wire server,
/// the HTTP listener for `/healthz` and `/metrics` (when configured), the SIGHUP configuration
/// reload and the systemd notifier; SIGTERM or SIGINT stop accepting, shut every driver down to
/// its safe state, and exit 0.
@main
enum LabvisordMain {
    static func main() async {
        // Before any task runs: tasks share the event loops' threads (fewer wake-ups per call).
        EventLoopExecutor.install()
        await Labvisord.main()
    }
}

struct Labvisord: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "labvisord", abstract: "The Labvisor daemon: serves lab instruments to experiment scripts.")

    @Option(help: "The configuration file (default: /etc/labvisor/labvisord.toml when it exists).")
    var config: String?

    @Option(name: .customLong("check-config"), help: "Check a configuration file (and the drivers it names), print a summary, and exit.")
    var checkConfig: String?

    @Flag(help: "Run the demo configuration (config/demo.toml, or --config): every reference simulator behind the real drivers and serial transports.")
    var demo = false

    @Option(help: "The unix socket to listen on (overrides the configuration and the endpoint rule of docs/wire.md).")
    var socket: String?

    @Option(help: "A folder of driver folders, searched before the configuration's search path.")
    var drivers: String?

    @Flag(help: "Add the built-in loopback instrument (an `echo` method, for benchmarks and tests).")
    var loopback = false

    @Option(help: "Serve /healthz and /metrics over HTTP at HOST:PORT (overrides the configuration's [daemon] http; port 0: any free port).")
    var http: String?
    @Option(
        name: .customLong("state-dir"),
        help: ArgumentHelp(
            "The state directory for the state store (labvisor.sqlite: known instruments, allocation history, audit log).",
            discussion: "Default: the configuration's state_dir, else systemd's $STATE_DIRECTORY, else none: no store, "
                + "the history is kept in memory only (the usual case for --demo)."))
    var stateDirectory: String?

    @Option(
        name: .customLong("hash-token"),
        help: ArgumentHelp(
            "Read a bearer token from standard input and print its tokens-file line (NAME:SHA256HEX), then exit.",
            valueName: "name"))
    var hashToken: String?

    func run() async throws {
        if let hashToken {
            guard let token = readLine(strippingNewline: true), !token.isEmpty else {
                throw ValidationError("--hash-token: give the token on standard input (e.g. `openssl rand -hex 32 | tee token | labvisord --hash-token NAME`)")
            }
            print(TokenFile.line(name: hashToken, token: token))
            return
        }
        if let checkConfig {
            let (configuration, manifests) = try Self.load(checkConfig, drivers: drivers)
            print("\(checkConfig): ok: \(configuration.instruments.count) instruments, \(manifests.count) driver manifests")
            for instrument in configuration.instruments {
                let how = instrument.simulate.map { "simulated (\($0))" } ?? instrument.pin.map { "pinned (\($0.selector))" } ?? ""
                print("  \(instrument.name): \(instrument.driver), \(how)")
            }
            if let tcp = configuration.tcp {
                let how = tcp.insecure ? "plain TCP (insecure, loopback)" : "TLS" + (tcp.tls?.clientCA != nil ? ", client certificates required" : "")
                print("  tcp \(tcp.address): \(how), \(tcp.tokens?.names.count ?? 0) tokens")
            }
            if !configuration.access.isOpen {
                print("  access lists: [access] \(configuration.access.defaults.count), instruments \(configuration.access.instruments.keys.sorted().joined(separator: ", "))")
            }
            return
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = ProcessInfo.processInfo.environment["LABVISOR_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
            return handler
        }
        let logger = Logger(label: "labvisord")
        let file = demo ? config ?? Self.demoConfiguration() : config ?? (FileManager.default.fileExists(atPath: Self.systemConfiguration) ? Self.systemConfiguration : nil)
        let (configuration, manifests) = try file.map { try Self.load($0, drivers: drivers) } ?? (DaemonConfiguration(), [])
        let socketPath = try socket ?? configuration.socket ?? {
            guard case .unix(let path) = try Endpoint.fromEnvironment() else {
                throw ValidationError("LABVISOR_URL names a TCP endpoint; labvisord listens on a unix socket: pass --socket PATH")
            }
            return path
        }()
        let events = EventBus()
        let store = try Self.stateDirectory(stateDirectory, configuration: configuration).map { folder in
            let store = try StateStore(directory: folder)
            logger.info("state store: \(store.path)")
            return StoreService(
                store: store, events: events, retention: configuration.historyDays.map { .seconds(86_400 * $0) }, logger: logger)
        }
        if store == nil { logger.info("no state directory: allocation history in memory only, no audit log") }
        let supervisor = Supervisor(
            events: events, store: store, defaultCallTimeout: configuration.defaultCallTimeout,
            gracePeriod: configuration.gracePeriod, streamsPerClient: configuration.streamsPerClient, logger: logger)
        let simulators = try SimulatedInstruments(supervisor: supervisor, configuration: configuration, manifests: manifests, logger: logger)
        let pinned = configuration.instruments.filter { $0.pin != nil }.map(\.name)
        // Hardware comes from udev discovery, except in a demo that pins nothing.
        let discovery = demo && pinned.isEmpty
            ? nil : DiscoveryService(supervisor: supervisor, configuration: configuration, manifests: manifests, logger: logger)
        if !pinned.isEmpty {
            logger.info("pinned hardware instruments appear when discovery finds their devices: \(pinned.joined(separator: ", "))")
        }
        // The access lists and tokens in force: the wire server checks them, a reload replaces them.
        let access = AccessInForce(policy: configuration.access, tokens: configuration.tcp?.tokens)
        let reload = ConfigurationReload(
            configuration: configuration, drivers: drivers, supervisor: supervisor, simulators: simulators, discovery: discovery,
            access: access, logger: logger)
        if loopback { supervisor.addLoopback(logger: logger) }
        logger.info("instruments: \(supervisor.instrumentNames.joined(separator: ", "))\(file.map { " (from \($0))" } ?? "")")
        let metrics = DaemonMetrics()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: metrics.registry))
        let server = RPCServer(
            supervisor: supervisor, socketPath: socketPath,
            limits: RPCServer.Limits(
                clients: configuration.maxClients, callsInFlight: configuration.callsInFlight, frameSize: configuration.maxMessageSize),
            demo: demo, calls: metrics, simulators: simulators, access: access, tcp: configuration.tcp, logger: logger)
        let liveness: [LivenessProbe] = [.supervisor(supervisor), .eventLoops()]
        let monitoring = try (http.map { (text) throws(LabvisorError) in try ListenAddress(parsing: text, key: "--http") } ?? configuration.http)
            .map { MonitoringHTTPServer(address: $0, supervisor: supervisor, metrics: metrics, liveness: liveness, logger: logger) { server.clientCount } }
        // Listed last: the group shuts services down in reverse order, so STOPPING=1 goes first.
        let systemd = SystemdNotifierService(
            notifier: SystemdNotifier(), watchdogInterval: SystemdWatchdog.pingInterval(),
            readiness: [.listening(server)] + (monitoring.map { [.listening($0)] } ?? [])
                + (discovery.map { [.coldplugFinished($0)] } ?? []), liveness: liveness, logger: logger
        ) { DaemonStatusLine.text(supervisor: supervisor, clients: server.clientCount) }
        // Started in this order, shut down in reverse: STOPPING=1 first, then the server stops
        // accepting, every driver goes to its safe state, discovery stops, and the store goes
        // last, writing what the others ended.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let store { services.append(.init(service: store)) }
        if let discovery { services.append(.init(service: discovery)) }
        services.append(.init(service: SupervisorService(supervisor: supervisor, simulators: simulators)))
        services.append(.init(service: server))
        if let monitoring { services.append(.init(service: monitoring)) }
        services.append(.init(service: HangupSignalService(reload: reload, notifier: SystemdNotifier(), logger: logger)))
        services.append(.init(service: systemd))
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
        logger.info("stopped; every driver was shut down to its safe state")
    }

    static let systemConfiguration = "/etc/labvisor/labvisord.toml"

    /// The state directory: `--state-dir`, else the configuration's `state_dir`, else
    /// systemd's `$STATE_DIRECTORY` (set by `StateDirectory=`; the first path when it lists
    /// several), else none.
    static func stateDirectory(_ option: String?, configuration: DaemonConfiguration) -> String? {
        if let option, !option.isEmpty { return option }
        if let folder = configuration.stateDirectory { return folder }
        let systemd = ProcessInfo.processInfo.environment["STATE_DIRECTORY"]?.split(separator: ":").first
        return systemd.map(String.init)
    }

    /// Reads the configuration and the manifests on its search path (`--drivers` first), and
    /// checks that every instrument's driver exists.
    static func load(_ file: String, drivers: String?) throws -> (DaemonConfiguration, [DriverManifest]) {
        try DaemonConfiguration.loadWithDrivers(file, drivers: drivers)
    }

    /// `config/demo.toml` in a source checkout, else the installed copy
    /// (`<prefix>/share/labvisor/config/demo.toml`, beside the installed drivers it reads).
    static func demoConfiguration() -> String {
        if FileManager.default.fileExists(atPath: "config/demo.toml") { return "config/demo.toml" }
        return ((DaemonConfiguration.installedDataFolder ?? "/usr/share/labvisor") as NSString).appendingPathComponent("config/demo.toml")
    }
}
