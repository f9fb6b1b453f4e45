import Foundation
import LabvisorDriverTesting
import LabvisorServer
import Logging
import Testing

/// A configuration reload in-process: a supervisor with simulated instruments from a file the
/// test rewrites, reloaded through `ConfigurationReload`.
@Suite("ConfigurationReloadTests", .timeLimit(.minutes(2)))
struct ConfigurationReloadTests {
    static let drivers = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("drivers").path

    /// A configuration file of `instruments` (`name = driver` pairs, simulated) and `extra`
    /// TOML after them.
    static func text(_ instruments: [(String, String)], tags: [String: String] = [:], extra: String = "") -> String {
        var text = "[daemon]\ndrivers = [\"\(drivers)\"]\nlinger = 2\n"
        for (name, driver) in instruments {
            text += "[[instrument]]\nname = \"\(name)\"\ndriver = \"\(driver)\"\nsimulate = \"\(driver)\"\n"
            if let room = tags[name] { text += "tags = { room = \"\(room)\" }\n" }
        }
        return text + extra
    }

    @Test func addsRemovesAndUpdatesInPlaceKeepingUnchangedSessions() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let file = folder.file("labvisord.toml")
        try Self.text([("heater-1", "example-heater"), ("laser-488", "coherent-obis")]).write(toFile: file, atomically: true, encoding: .utf8)
        let (configuration, manifests) = try DaemonConfiguration.loadWithDrivers(file, drivers: nil)
        let supervisor = Supervisor()
        let recorded = RecordedEvents()
        let subscription = supervisor.events.subscribe()
        let pump = Task { for await event in subscription { recorded.publish(event) } }
        let logger = Logger(label: "test")
        let simulators = try SimulatedInstruments(supervisor: supervisor, configuration: configuration, manifests: manifests, logger: logger)
        let reload = ConfigurationReload(configuration: configuration, supervisor: supervisor, simulators: simulators, discovery: nil, logger: logger)
        try await withTimeLimit(.seconds(60)) {
            // Alice uses the heater under a lease: its driver is open and heating.
            let alice = supervisor.connect(ClientRef(id: 1, name: "alice"))
            let heater = try await supervisor.acquire(AcquireLease.Params(instruments: ["heater-1"]), from: alice)
            _ = try await supervisor.invoke(InvokeMethod.Params(instrument: "heater-1", method: "heatOn", leaseToken: heater.token), from: alice)
            let bob = supervisor.connect(ClientRef(id: 2, name: "bob"))
            let laser = try await supervisor.acquire(AcquireLease.Params(instruments: ["laser-488"]), from: bob)

            // The heater gets a tag, the laser goes, a stage comes.
            try Self.text([("heater-1", "example-heater"), ("stage-x", "zaber-ascii")], tags: ["heater-1": "B12"])
                .write(toFile: file, atomically: true, encoding: .utf8)
            guard case .applied(let change) = await reload.reload(by: "test") else {
                Issue.record("the reload was rejected")
                return
            }
            #expect(change.summary == "+stage-x -laser-488 ~heater-1")
            #expect(supervisor.instrumentNames == ["heater-1", "stage-x"])
            #expect(simulators.simulators.keys.sorted() == ["heater-1", "stage-x"], "the laser's simulator stopped")
            let revoked = try await recorded.waitFor("the laser's revocation") { $0.kind == .leaseRevoked && $0.fields["lease"]?.string == laser.lease }
            #expect(revoked.fields["reason"] == "instrument laser-488 was removed from the configuration by reload")
            let gone = await thrownError { try await supervisor.invoke(InvokeMethod.Params(instrument: "laser-488", method: "on"), from: bob) }
            #expect(gone?.code == .notFound)
            #expect(gone?.message.contains("removed from the configuration by reload") == true, "\(gone?.message ?? "")")

            // The heater was not reopened (it would be off after its safe-state shutdown), its
            // lease still works, and queries see its new tag.
            let heating = try await supervisor.get(GetProperty.Params(instrument: "heater-1", property: "heating"), from: alice)
            #expect(heating.value == true)
            _ = try await supervisor.invoke(InvokeMethod.Params(instrument: "heater-1", method: "heatOff", leaseToken: heater.token), from: alice)
            #expect(try supervisor.list(ListInstruments.Params(where: ["tags.room": "B12"])).instruments.map(\.name) == ["heater-1"])
            #expect(!recorded.events.contains { $0.kind == .instrumentRemoved && $0.instrument == "heater-1" })
            let stage = try await supervisor.get(GetProperty.Params(instrument: "stage-x", property: "position"), from: alice)
            #expect(stage.value != nil)

            // A broken file is rejected naming file and line; nothing changes.
            try (Self.text([("heater-1", "example-heater")]) + "[[instrument]]\nname = \"x\"\ndriver = \"no-such-driver\"\nsimulate = \"no-such-driver\"\n")
                .write(toFile: file, atomically: true, encoding: .utf8)
            guard case .rejected(let unknown) = await reload.reload(by: "test") else {
                Issue.record("a file naming an unknown driver was applied")
                return
            }
            #expect(unknown.message.contains("no-such-driver") && unknown.message.contains(file), "\(unknown.message)")
            try (Self.text([("heater-1", "example-heater")]) + "[[instrument\n").write(toFile: file, atomically: true, encoding: .utf8)
            guard case .rejected(let syntax) = await reload.reload(by: "test") else {
                Issue.record("a file with a syntax error was applied")
                return
            }
            #expect(syntax.message.contains("\(file):8"), "\(syntax.message)")
            #expect(supervisor.instrumentNames == ["heater-1", "stage-x"])
            #expect(reload.configuration.instruments.map(\.name) == ["heater-1", "stage-x"])
            supervisor.disconnect(alice)
            supervisor.disconnect(bob)
        }
        await supervisor.shutdown()
        simulators.stop()
        pump.cancel()
    }

    @Test func daemonSettingsApplyLiveOrAreKeptUntilRestart() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let file = folder.file("labvisord.toml")
        try Self.text([]).write(toFile: file, atomically: true, encoding: .utf8)
        let (configuration, manifests) = try DaemonConfiguration.loadWithDrivers(file, drivers: nil)
        let supervisor = Supervisor(defaultCallTimeout: configuration.defaultCallTimeout, streamsPerClient: configuration.streamsPerClient)
        let logger = Logger(label: "test")
        let simulators = try SimulatedInstruments(supervisor: supervisor, configuration: configuration, manifests: manifests, logger: logger)
        let reload = ConfigurationReload(configuration: configuration, supervisor: supervisor, simulators: simulators, discovery: nil, logger: logger)
        try Self.text([], extra: "").replacingOccurrences(of: "linger = 2\n", with: "linger = 2\ncall_timeout = 4\nstreams_per_client = 3\nmax_clients = 5\nsocket = \"/tmp/elsewhere.sock\"\n")
            .write(toFile: file, atomically: true, encoding: .utf8)
        guard case .applied(let change) = await reload.reload(by: "test") else {
            Issue.record("the reload was rejected")
            return
        }
        #expect(change.liveSettings == ["call_timeout", "streams_per_client"])
        #expect(change.restartSettings == ["socket", "max_clients"])
        #expect(supervisor.defaultCallTimeout == .seconds(4))
        #expect(supervisor.streamsPerClient == 3)
        #expect(reload.configuration.maxClients == 64, "kept until a restart")
        #expect(reload.configuration.socket == nil)
        #expect(reload.configuration.defaultCallTimeout == .seconds(4))
        await supervisor.shutdown()
    }

    @Test func withoutAFileThereIsNothingToReload() async throws {
        let supervisor = Supervisor()
        let logger = Logger(label: "test")
        let simulators = try SimulatedInstruments(supervisor: supervisor, configuration: DaemonConfiguration(), manifests: [], logger: logger)
        let reload = ConfigurationReload(
            configuration: DaemonConfiguration(), supervisor: supervisor, simulators: simulators, discovery: nil, logger: logger)
        guard case .rejected(let error) = await reload.reload(by: "test") else {
            Issue.record("a daemon without a file reloaded")
            return
        }
        #expect(error.code == .unavailable)
        #expect(error.message.contains("without a configuration file"))
    }
}
