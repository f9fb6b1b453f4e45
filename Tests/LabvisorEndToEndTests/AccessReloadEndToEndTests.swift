import Foundation
import LabvisorClient
import LabvisorServer
import Testing

/// Access lists and the tokens file reloaded by SIGHUP in the real daemon, applied to clients
/// already connected; and refusals before authentication in its audit log, within their limit.
@Suite("AccessReloadEndToEndTests", .timeLimit(.minutes(3)))
struct AccessReloadEndToEndTests {
    static let me = AccessEndToEndTests.me
    static let token = AccessEndToEndTests.token
    static let other = "other-\(UInt64.random(in: 0...UInt64.max))-token"
    static let ca = "\(AccessEndToEndTests.tls)/ca.pem"
    /// A TLS listener on a free port taking the tokens in the folder's `tokens`.
    static let listener =
        "tcp = \"127.0.0.1:0\"\ntokens = \"tokens\"\n[daemon.tls]\ncertificate = \"\(AccessEndToEndTests.tls)/server.pem\"\nkey = \"\(AccessEndToEndTests.tls)/server.key\"\n"

    static func write(_ text: String, to file: String) throws {
        try text.write(toFile: file, atomically: true, encoding: .utf8)
    }

    /// Sends SIGHUP and returns the log once it reports `count` reload outcomes (applied or
    /// rejected) since the start, at most 20 s.
    static func reload(_ daemon: DaemonProcess, count: Int) async throws -> String {
        kill(daemon.pid, SIGHUP)
        let deadline = ContinuousClock.now + .seconds(20)
        while true {
            let log = daemon.logText
            let outcomes = log.components(separatedBy: "\n").filter {
                ($0.contains("configuration reload of") && $0.contains(" applied: ")) || $0.contains("configuration reload rejected")
            }
            if outcomes.count >= count || ContinuousClock.now > deadline { return log }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// The daemon on `configuration` (its TLS endpoint when it has a listener).
    static func daemon(_ configuration: (folder: String, file: String)) async throws -> DaemonProcess {
        try await DaemonProcess(stateDirectory: configuration.folder, configurationFile: configuration.file)
    }

    static func endpoint(_ daemon: DaemonProcess) throws -> Endpoint {
        .tls(host: "127.0.0.1", port: try AccessEndToEndTests.tlsPort(daemon))
    }

    @Test func aUserTakenOffAControlListLosesControlAtTheConnectedClientsNextCall() async throws {
        let configuration = try AccessEndToEndTests.configuration(lists: ["heater-1": "control = [\"user:\(Self.me)\"]"])
        defer { try? FileManager.default.removeItem(atPath: configuration.folder) }
        let daemon = try await Self.daemon(configuration)
        let client = try await daemon.connect()
        defer { Task { await client.close() } }
        _ = try await client.acquire(["heater-1"])
        try await client.invoke("heater-1", "heatOn")

        let listed = try String(contentsOfFile: configuration.file, encoding: .utf8)
        try Self.write(listed.replacingOccurrences(of: "user:\(Self.me)", with: "user:nobody-here"), to: configuration.file)
        let log = try await Self.reload(daemon, count: 1)
        #expect(log.contains("configuration reload of \(configuration.file) applied: no instrument changes; access lists changed"), "\(log)")
        // The same connection, its next call: refused, naming the new rule and its line.
        let denied = await #expect(throws: LabvisorError.self) { try await client.invoke("heater-1", "heatOff") }
        let line = try AccessEndToEndTests.line(of: "control = [\"user:nobody-here\"]", in: configuration.file)
        #expect(denied?.code == .permissionDenied)
        #expect(
            denied?.message
                == "user \(Self.me) (uid \(getuid())) may not control heater-1 (invoke heatOff): [instrument heater-1] control = [\"user:nobody-here\"] (labvisord.toml line \(line))")
        // Observing is open there.
        #expect(try await client.get("heater-1", "heating") == true)

        // Listed again: control again, on the same connection.
        try Self.write(listed, to: configuration.file)
        _ = try await Self.reload(daemon, count: 2)
        try await client.invoke("heater-1", "heatOff")

        let entries = try await AccessEndToEndTests.audit(daemon) { $0.filter { $0.action == "configReload" }.count >= 2 }
        #expect(entries.filter { $0.action == "configReload" }.map(\.detail) == Array(repeating: "no instrument changes; access lists changed", count: 2))
        #expect(entries.contains { $0.action == "denied" && $0.detail == denied?.message })
    }

    @Test func aTokenTakenOutOfTheTokensFileIsRefusedToNewAndConnectedClients() async throws {
        let configuration = try AccessEndToEndTests.configuration(
            daemon: Self.listener, lists: ["heater-1": "control = [\"token:ci-runner\", \"token:other\"]"])
        defer { try? FileManager.default.removeItem(atPath: configuration.folder) }
        let tokens = configuration.folder + "/tokens"
        let line = (ci: TokenFile.line(name: "ci-runner", token: Self.token), other: TokenFile.line(name: "other", token: Self.other))
        try Self.write("\(line.ci)\n\(line.other)\n", to: tokens)
        let daemon = try await Self.daemon(configuration)
        let endpoint = try Self.endpoint(daemon)
        let runner = try await Labvisor.connect(to: endpoint, credentials: ClientCredentials(token: Self.token, caFile: Self.ca))
        defer { Task { await runner.close() } }
        _ = try await runner.acquire(["heater-1"])
        try await runner.invoke("heater-1", "heatOn")

        try Self.write("\(line.other)\n", to: tokens)
        let log = try await Self.reload(daemon, count: 1)
        #expect(log.contains("applied: no instrument changes; tokens changed"), "\(log)")
        // The connection that presented it is anonymous again.
        let lost = await #expect(throws: LabvisorError.self) { try await runner.invoke("heater-1", "heatOff") }
        #expect(lost?.code == .unauthenticated)
        #expect(
            lost?.message.hasPrefix("token ci-runner, which this connection authenticated with, is no longer in the daemon's tokens file") == true,
            "\(String(describing: lost))")
        // A new connection cannot authenticate with it; the token kept in the file still works.
        let refused = await #expect(throws: LabvisorError.self) {
            try await Labvisor.connect(to: endpoint, credentials: ClientCredentials(token: Self.token, caFile: Self.ca))
        }
        #expect(refused?.code == .unauthenticated)
        let kept = try await Labvisor.connect(to: endpoint, credentials: ClientCredentials(token: Self.other, caFile: Self.ca))
        defer { Task { await kept.close() } }
        #expect(try await kept.status().instruments == 4)

        let entries = try await AccessEndToEndTests.audit(daemon) { $0.contains { $0.action == "authenticationFailed" } && $0.contains { $0.action == "configReload" } }
        #expect(entries.contains { $0.action == "configReload" && $0.detail == "no instrument changes; tokens changed" })
        #expect(entries.contains { $0.action == "authenticationFailed" && $0.target == "session.authenticate" && $0.actor.hasPrefix("anonymous tcp peer 127.0.0.1:") })
        #expect(entries.contains { $0.action == "unauthenticated" && $0.target == "instrument.invoke" && $0.detail == lost?.message })
    }

    @Test func aMalformedTokensFileRejectsTheWholeReloadAndTheOldTokensStillWork() async throws {
        let configuration = try AccessEndToEndTests.configuration(daemon: Self.listener, lists: ["heater-1": "control = [\"token:ci-runner\"]"])
        defer { try? FileManager.default.removeItem(atPath: configuration.folder) }
        let tokens = configuration.folder + "/tokens"
        let daemon = try await Self.daemon(configuration)
        let endpoint = try Self.endpoint(daemon)
        let runner = try await Labvisor.connect(to: endpoint, credentials: ClientCredentials(token: Self.token, caFile: Self.ca))
        defer { Task { await runner.close() } }
        _ = try await runner.acquire(["heater-1"])

        // A bad second line, and a list change beside it: neither applies.
        try Self.write(TokenFile.line(name: "ci-runner", token: Self.token) + "\nci-runner-2:1234\n", to: tokens)
        let listed = try String(contentsOfFile: configuration.file, encoding: .utf8)
        try Self.write(listed.replacingOccurrences(of: "token:ci-runner", with: "token:nobody"), to: configuration.file)
        let log = try await Self.reload(daemon, count: 1)
        let reason = "tokens:2: the hash of token 'ci-runner-2' must be 64 hex digits (SHA-256), got '1234'"
        #expect(log.contains("configuration reload rejected; the configuration in force is kept: invalid tokens file "), "\(log)")
        #expect(log.contains(reason), "\(log)")
        try await runner.invoke("heater-1", "heatOn")
        let again = try await Labvisor.connect(to: endpoint, credentials: ClientCredentials(token: Self.token, caFile: Self.ca))
        defer { Task { await again.close() } }
        #expect(try await again.status().instruments == 4)

        let entries = try await AccessEndToEndTests.audit(daemon) { $0.contains { $0.action == "configReloadRejected" } }
        let rejected = try #require(entries.first { $0.action == "configReloadRejected" }, "\(entries)")
        #expect(rejected.detail.contains(reason), "\(rejected)")
        #expect(rejected.target == configuration.file)
        #expect(!entries.contains { $0.action == "configReload" })
    }

    @Test func refusalsBeforeAuthenticationAreAuditedUpToAPerConnectionLimit() async throws {
        let configuration = try AccessEndToEndTests.configuration(daemon: Self.listener)
        defer { try? FileManager.default.removeItem(atPath: configuration.folder) }
        let daemon = try await Self.daemon(configuration)
        let endpoint = try Self.endpoint(daemon)

        let anonymous = try await Labvisor.connect(to: endpoint, credentials: ClientCredentials(caFile: Self.ca))
        for _ in 0..<8 {
            let refused = await #expect(throws: LabvisorError.self) { try await anonymous.status() }
            #expect(refused?.code == .unauthenticated)
        }
        await anonymous.close()
        await #expect(throws: LabvisorError.self) {
            try await Labvisor.connect(to: endpoint, credentials: ClientCredentials(token: "a-wrong-token", caFile: Self.ca))
        }

        let entries = try await AccessEndToEndTests.audit(daemon) { entries in
            entries.contains { $0.action == "refusalsOmitted" } && entries.contains { $0.action == "authenticationFailed" }
        }
        let refusals = entries.filter { $0.actor.hasPrefix("anonymous tcp peer 127.0.0.1:") }
        let unauthenticated = refusals.filter { $0.action == "unauthenticated" }
        #expect(unauthenticated.count == 5, "\(refusals)")
        #expect(unauthenticated.allSatisfy { $0.target == "daemon.status" && $0.detail == ConnectionAccess.unauthenticatedError.message })
        #expect(Set(unauthenticated.map(\.actor)).count == 1, "one connection, one peer address")
        let summary = try #require(refusals.first { $0.action == "refusalsOmitted" }, "\(entries)")
        #expect(summary.actor == unauthenticated.first?.actor)
        #expect(
            summary.detail
                == "3 more refusals on this connection were not recorded one by one (the first 5 were); the last: unauthenticated daemon.status: \(ConnectionAccess.unauthenticatedError.message)")
        let failed = refusals.filter { $0.action == "authenticationFailed" }
        #expect(failed.count == 1, "\(refusals)")
        #expect(failed.first?.target == "session.authenticate")
        #expect(failed.first?.detail == "the token is not valid: it is not in the daemon's tokens file")
        #expect(failed.first?.actor != summary.actor, "another connection")
    }

    @Test func failedTLSHandshakesAreAuditedAsRefusals() async throws {
        let tls = AccessEndToEndTests.tls
        let configuration = try AccessEndToEndTests.configuration(
            daemon: "tcp = \"127.0.0.1:0\"\n[daemon.tls]\ncertificate = \"\(tls)/server.pem\"\nkey = \"\(tls)/server.key\"\nclient_ca = \"\(tls)/ca.pem\"\n")
        defer { try? FileManager.default.removeItem(atPath: configuration.folder) }
        let daemon = try await Self.daemon(configuration)
        let endpoint = Endpoint.tls(host: "localhost", port: try AccessEndToEndTests.tlsPort(daemon))
        // Without a client certificate: the handshake fails.
        await #expect(throws: LabvisorError.self) {
            let refused = try await Labvisor.connect(to: endpoint, credentials: ClientCredentials(caFile: Self.ca))
            defer { Task { await refused.close() } }
            _ = try await refused.status()
        }
        let entries = try await AccessEndToEndTests.audit(daemon) { $0.contains { $0.action == "refused" } }
        let refused = try #require(entries.first { $0.action == "refused" }, "\(entries); \(daemon.logText)")
        #expect(refused.target == "(TLS handshake)")
        #expect(refused.actor.hasPrefix("anonymous tcp peer 127.0.0.1:") || refused.actor.hasPrefix("anonymous tcp peer ::1:"), "\(refused)")
        #expect(refused.detail.hasPrefix("the TLS handshake failed: handshakeFailed"), "\(refused)")
    }
}
