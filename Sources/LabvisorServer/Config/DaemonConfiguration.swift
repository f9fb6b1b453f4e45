import Foundation
import LabvisorHardware
import LabvisorProtocol

/// `labvisord`'s configuration (`config/labvisord.toml` documents every key).
public struct DaemonConfiguration: Sendable, Hashable {
    /// The unix socket; `nil`: the endpoint rule (`Endpoint.defaultSocketPath`).
    public var socket: String?
    /// Where `/healthz` and `/metrics` are served over HTTP; `nil` (the default): nowhere.
    public var http: ListenAddress?
    /// The state directory holding the state store (`labvisor.sqlite`); `nil`: systemd's
    /// `$STATE_DIRECTORY` when set, else no store (see `labvisord --help`).
    public var stateDirectory: String?
    /// Days of allocation history and audit log the state store keeps (`history_days`);
    /// `nil` (the default): all of it.
    public var historyDays: Int?
    /// The most clients connected at once.
    public var maxClients: Int = 64
    /// The most calls in flight per client.
    public var callsInFlight: Int = 256
    /// The most stream subscriptions per client (`stream.open`).
    public var streamsPerClient: Int = 8
    /// The largest message (frame) a client may send, in bytes; a larger one is answered with
    /// `resourceExhausted` and the connection is closed.
    public var maxMessageSize: Int = Framing.defaultMaxFrameSize
    /// A call's deadline when the client gives none.
    public var defaultCallTimeout: Duration = .seconds(30)
    /// How long a driver stays open after its last user, unless the instrument says.
    public var defaultLinger: Duration = .seconds(2)
    /// How long an unplugged instrument is kept as `gone`.
    public var gracePeriod: Duration = .seconds(10)
    /// Folders of driver folders, searched in order (default: `defaultDriverSearchPath`).
    public var driverSearchPath: [String] = DaemonConfiguration.defaultDriverSearchPath
    /// The instruments named in the file.
    public var instruments: [InstrumentConfiguration] = []
    /// The opt-in TCP listener (`[daemon] tcp`); `nil` (the default): unix socket only.
    public var tcp: TCPListenerConfiguration?
    /// Who may observe, control and administer what (`[access]` and each instrument's lists);
    /// empty (the default): everyone who can connect may do everything.
    public var access = AccessPolicy()
    /// The file it was read from.
    public var file: String?

    /// The defaults, with no instruments.
    public init() {}

    /// The installed data folder: `<prefix>/share/labvisor` for the running executable in
    /// `<prefix>/bin` (so `scripts/install.sh` with any `PREFIX` works without a config
    /// change); `nil` when the executable's path cannot be read.
    public static let installedDataFolder: String? = {
        guard let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else { return nil }
        let prefix = ((executable as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent
        return (prefix as NSString).appendingPathComponent("share/labvisor")
    }()

    /// The installed drivers of the running executable's prefix, then `/usr/share/labvisor/drivers`.
    public static let defaultDriverSearchPath: [String] = {
        let system = "/usr/share/labvisor/drivers"
        guard let data = installedDataFolder else { return [system] }
        let installed = (data as NSString).appendingPathComponent("drivers")
        return installed == system ? [system] : [installed, system]
    }()

    /// Reads `path`.
    ///
    /// - Throws: `notFound` for a missing file; `invalidArgument` naming file, line, key and
    ///   what is wrong.
    public static func load(_ path: String) throws(LabvisorError) -> DaemonConfiguration {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LabvisorError(.notFound, "no configuration file at \(path)", fields: ["file": .string(path)])
        }
        return try parse(String(decoding: data, as: UTF8.self), file: path)
    }

    /// Parses configuration text; `file` names it in errors, and relative driver folders are
    /// taken from its folder.
    public static func parse(_ text: String, file: String) throws(LabvisorError) -> DaemonConfiguration {
        try TOMLSection.parse(text, file: file, document: "configuration") { (root) throws(LabvisorError) in
            var configuration = DaemonConfiguration()
            configuration.file = file
            if var daemon = try root.section("daemon") {
                configuration.socket = try daemon.string("socket")
                if let http = try daemon.string("http") {
                    do {
                        configuration.http = try ListenAddress(parsing: http, key: "daemon.http")
                    } catch {
                        throw daemon.error("http", "'\(http)' is not HOST:PORT (e.g. \"127.0.0.1:9464\", \"[::1]:9464\") with a port from 0 to 65535")
                    }
                }
                if let folder = try daemon.string("state_dir") {
                    guard !folder.isEmpty else { throw daemon.error("state_dir", "must name a folder, e.g. \"/var/lib/labvisor\"") }
                    let absolute = file.hasPrefix("/") ? file : FileManager.default.currentDirectoryPath + "/" + file
                    let base = (absolute as NSString).deletingLastPathComponent
                    configuration.stateDirectory =
                        folder.hasPrefix("/") ? folder : ((base as NSString).appendingPathComponent(folder) as NSString).standardizingPath
                }
                configuration.historyDays = try daemon.int("history_days", in: 1...36_500)
                configuration.maxClients = try daemon.int("max_clients", in: 1...100_000) ?? configuration.maxClients
                configuration.callsInFlight = try daemon.int("calls_in_flight", in: 1...100_000) ?? configuration.callsInFlight
                configuration.streamsPerClient = try daemon.int("streams_per_client", in: 1...1_000) ?? configuration.streamsPerClient
                configuration.maxMessageSize = try daemon.int("max_message_size", in: 1024...(1 << 30)) ?? configuration.maxMessageSize
                configuration.defaultCallTimeout = try daemon.double("call_timeout", in: 0.001...86_400).map { .seconds($0) }
                    ?? configuration.defaultCallTimeout
                configuration.defaultLinger = try daemon.double("linger", in: 0...86_400).map { .seconds($0) } ?? configuration.defaultLinger
                configuration.gracePeriod = try daemon.double("grace_period", in: 0...86_400).map { .seconds($0) }
                    ?? configuration.gracePeriod
                if let folders = try daemon.strings("drivers") {
                    let absolute = file.hasPrefix("/") ? file : FileManager.default.currentDirectoryPath + "/" + file
                    let base = (absolute as NSString).deletingLastPathComponent
                    configuration.driverSearchPath = folders.map {
                        $0.hasPrefix("/") ? $0 : ((base as NSString).appendingPathComponent($0) as NSString).standardizingPath
                    }
                }
                let absolute = file.hasPrefix("/") ? file : FileManager.default.currentDirectoryPath + "/" + file
                configuration.tcp = try TCPListenerConfiguration.read(&daemon, base: (absolute as NSString).deletingLastPathComponent)
                try daemon.rejectUnknownKeys()
            }
            var access = AccessPolicy()
            if var defaults = try root.section("access") {
                access.defaults = try AccessConfiguration.read(&defaults, table: "[access]", text: text)
                try defaults.rejectUnknownKeys()
            }
            var names: Set<String> = []
            for var section in try root.sections("instrument") {
                let name = try? section.string("name")
                let lists = try AccessConfiguration.read(&section, table: "[instrument \(name ?? "?")]", text: text)
                let instrument = try InstrumentConfiguration(&section)
                if !lists.isEmpty { access.instruments[instrument.name] = lists }
                guard names.insert(instrument.name).inserted else {
                    throw section.error("name", "'\(instrument.name)' names two instruments")
                }
                configuration.instruments.append(instrument)
            }
            configuration.access = access
            try root.rejectUnknownKeys()
            return configuration
        }
    }
}
