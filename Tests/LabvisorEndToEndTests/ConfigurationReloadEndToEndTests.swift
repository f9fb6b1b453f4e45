import Foundation
import LabvisorClient
import Testing

/// SIGHUP to the real daemon re-reads its configuration file: instruments come and go, the
/// unchanged ones keep their sessions and leases, and a bad file is rejected and audited.
@Suite("ConfigurationReloadEndToEndTests", .timeLimit(.minutes(3)))
struct ConfigurationReloadEndToEndTests {
    /// A configuration of simulated instruments (`name = driver`), `tags` on some.
    static func text(_ instruments: [(String, String)], tags: [String: String] = [:]) -> String {
        var text = "[daemon]\ndrivers = [\"\(DaemonProcess.root.appendingPathComponent("drivers").path)\"]\nlinger = 2\n"
        for (name, driver) in instruments {
            text += "\n[[instrument]]\nname = \"\(name)\"\ndriver = \"\(driver)\"\nsimulate = \"\(driver)\"\n"
            if let room = tags[name] { text += "tags = { room = \"\(room)\" }\n" }
        }
        return text
    }

    /// The events of `stream` until one `accepts` (that one included), at most `limit`.
    static func events(
        _ stream: EventWatch, until accepts: @escaping @Sendable (Event) -> Bool, within limit: Duration = .seconds(20)
    ) async -> [Event] {
        let collector = Task {
            var collected: [Event] = []
            for await event in stream {
                collected.append(event)
                if accepts(event) { break }
            }
            return collected
        }
        let timer = Task {
            try await Task.sleep(for: limit)
            collector.cancel()
        }
        defer { timer.cancel() }
        return await collector.value
    }

    /// The audit log once an entry `accepts` is in it (the store writes off the request path),
    /// at most 20 s.
    static func audit(_ client: Labvisor, until accepts: (AuditLogEntry) -> Bool) async throws -> [AuditLogEntry] {
        let deadline = ContinuousClock.now + .seconds(20)
        while true {
            let entries = try await client.audit()
            if entries.contains(where: accepts) || ContinuousClock.now > deadline { return entries }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// The daemon's log once it holds `text`, at most 20 s.
    static func log(_ daemon: DaemonProcess, until text: String) async throws -> String {
        let deadline = ContinuousClock.now + .seconds(20)
        while true {
            let log = daemon.logText
            if log.contains(text) || ContinuousClock.now > deadline { return log }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    @Test func sighupAddsAndRemovesInstrumentsAndKeepsTheOthersSessions() async throws {
        let state = try StoreEndToEndTests.stateDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("labvisor-reload-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("labvisord.toml").path
        try Self.text([("heater-1", "example-heater"), ("laser-488", "coherent-obis")]).write(toFile: file, atomically: true, encoding: .utf8)
        let daemon = try await DaemonProcess(stateDirectory: state, configurationFile: file)

        // Alice heats under her lease; Bob holds the laser and watches.
        let alice = try await daemon.connect()
        let heater = try await alice.acquire(["heater-1"])
        try await alice.invoke("heater-1", "heatOn")
        let bob = try await daemon.connect()
        let laser = try await bob.acquire(["laser-488"])
        let events = try await bob.watch(kinds: [.leaseRevoked, .instrumentRemoved, .instrumentAdded])

        // The heater gets a tag, the laser goes, a stage comes.
        try Self.text([("heater-1", "example-heater"), ("stage-x", "zaber-ascii")], tags: ["heater-1": "B12"])
            .write(toFile: file, atomically: true, encoding: .utf8)
        kill(daemon.pid, SIGHUP)
        var seen = await Self.events(events) { $0.kind == .instrumentAdded && $0.instrument == "stage-x" }
        if !seen.contains(where: { $0.kind == .instrumentRemoved }) {
            seen += await Self.events(events) { $0.kind == .instrumentRemoved }
        }
        let revoked = try #require(seen.first { $0.kind == .leaseRevoked }, "\(seen.map(\.kind)); \(daemon.logText)")
        #expect(revoked.fields["lease"]?.string == laser.lease)
        #expect(revoked.fields["reason"] == "instrument laser-488 was removed from the configuration by reload")
        #expect(seen.contains { $0.kind == .instrumentRemoved && $0.instrument == "laser-488" })
        #expect(!seen.contains { $0.instrument == "heater-1" }, "the heater was not touched: \(seen)")
        #expect(try await bob.list().map(\.name) == ["heater-1", "stage-x"])
        let gone = await #expect(throws: LabvisorError.self) { try await bob.get("laser-488", "power") }
        #expect(gone?.code == .notFound)

        // Alice's session and lease go on: the heater is still on (not reopened), and a call
        // under her lease works.
        #expect(try await alice.get("heater-1", "heating") == true)
        try await alice.invoke("heater-1", "heatOff")
        #expect(try await alice.list(where: ["tags.room": "B12"]).map(\.name) == ["heater-1"])
        #expect(try await alice.leases().map(\.lease) == [heater.lease])
        #expect(try await alice.get("stage-x", "position").number != nil)
        let applied = try await Self.audit(alice) { $0.action == "configReload" }
        let entry = try #require(applied.first { $0.action == "configReload" }, "\(applied)")
        #expect(entry.detail == "+stage-x -laser-488 ~heater-1")
        #expect(entry.target == file)
        #expect(entry.actor == "SIGHUP")

        // A broken file: rejected, logged with file and line, audited; the daemon serves on.
        let broken = Self.text([("heater-1", "example-heater")]) + "\n[[instrument]]\nname = \"heater-1\"\ndriver = \"example-heater\"\nsimulate = \"example-heater\"\n"
        try broken.write(toFile: file, atomically: true, encoding: .utf8)
        kill(daemon.pid, SIGHUP)
        let log = try await Self.log(daemon, until: "configuration reload rejected")
        #expect(log.contains("configuration reload rejected; the configuration in force is kept: invalid configuration \(file):11: instrument[1].name: 'heater-1' names two instruments"), "\(log)")
        let rejected = try await Self.audit(alice) { $0.action == "configReloadRejected" }
        #expect(rejected.first { $0.action == "configReloadRejected" }?.detail.contains("\(file):11") == true, "\(rejected)")
        #expect(try await alice.list().map(\.name) == ["heater-1", "stage-x"])
        try await alice.invoke("heater-1", "heatOn")
        await alice.close()
        await bob.close()
        #expect(try await daemon.stop() == 0, "\(daemon.logText)")
    }
}
