import Foundation
import LabvisorClient
import LabvisorServer
import Testing

/// Access control in the real daemon: unix peers by uid, the TLS listener with tokens and
/// client certificates, access lists and their audit entries, through the real clients.
@Suite("AccessEndToEndTests", .timeLimit(.minutes(3)))
struct AccessEndToEndTests {
    static let tls = DaemonProcess.root.appendingPathComponent("Tests/Fixtures/tls").path
    static let token = "e2e-\(UInt64.random(in: 0...UInt64.max))-token"
    /// The user running the tests (root in CI), as access lists name it.
    static let me = UnixAccounts.identity(uid: getuid()).user ?? String(getuid())

    /// A folder with `labvisord.toml` (the demo's simulated instruments, each with `lists[name]`
    /// appended to its table, and `daemon` appended to `[daemon]`) and a tokens file holding
    /// `token` as `ci-runner`.
    static func configuration(daemon: String = "", lists: [String: String] = [:]) throws -> (folder: String, file: String) {
        let folder = try StoreEndToEndTests.stateDirectory()
        try (TokenFile.line(name: "ci-runner", token: token) + "\n").write(toFile: folder + "/tokens", atomically: true, encoding: .utf8)
        var text = "[daemon]\ndrivers = [\"\(DaemonProcess.root.appendingPathComponent("drivers").path)\"]\n\(daemon)\n"
        for (name, driver) in [("stage-x", "zaber-ascii"), ("laser-488", "coherent-obis"), ("heater-1", "example-heater"), ("camera-1", "uvc-camera")] {
            text += "\n[[instrument]]\nname = \"\(name)\"\ndriver = \"\(driver)\"\nsimulate = \"\(driver)\"\n\(lists[name] ?? "")\n"
        }
        try text.write(toFile: folder + "/labvisord.toml", atomically: true, encoding: .utf8)
        return (folder, folder + "/labvisord.toml")
    }

    /// The daemon on `file`, with its state store in `folder`.
    static func daemon(_ configuration: (folder: String, file: String)) async throws -> DaemonProcess {
        try await DaemonProcess(arguments: ["--config", configuration.file], stateDirectory: configuration.folder)
    }

    /// The TLS port the daemon logged.
    static func tlsPort(_ daemon: DaemonProcess) throws -> Int {
        let marker = "listening on tls://127.0.0.1:"
        let line = try #require(daemon.logText.components(separatedBy: "\n").first { $0.contains(marker) }, "\(daemon.logText)")
        return try #require(Int(line.components(separatedBy: marker)[1].prefix { $0.isNumber }))
    }

    static func line(of key: String, in file: String) throws -> Int {
        let lines = try String(contentsOfFile: file, encoding: .utf8).components(separatedBy: "\n")
        return try #require(lines.firstIndex { $0.hasPrefix(key) }) + 1
    }

    /// The audit log (`labvisor history --audit --json`) once it `accepts` (the store writes
    /// off the request path, in batches), at most 20 s. Wait for what the test checks, not for
    /// a count: entries the test does not check may come first.
    static func audit(_ daemon: DaemonProcess, until accepts: ([AuditLogEntry]) -> Bool) async throws -> [AuditLogEntry] {
        let deadline = ContinuousClock.now + .seconds(20)
        while true {
            let result = try await daemon.labvisor(["history", "--audit", "--json"])
            #expect(result.status == 0, "\(result.errors)")
            let entries = try JSONDecoder().decode([AuditLogEntry].self, from: Data(result.output.utf8))
            if accepts(entries) || ContinuousClock.now > deadline { return entries }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    @Test func unixPeersAreTheirUserAndDenialsNameTheRuleAndAreAudited() async throws {
        let configuration = try Self.configuration(lists: [
            "stage-x": "control = [\"user:nobody-here\"]",
            "heater-1": "control = [\"user:\(Self.me)\"]",
            "camera-1": "observe = [\"group:no-such-group\"]",
        ])
        defer { try? FileManager.default.removeItem(atPath: configuration.folder) }
        let daemon = try await Self.daemon(configuration)
        let client = try await daemon.connect()
        defer { Task { await client.close() } }

        // Listed: allowed.
        let heater = try await client.acquire(["heater-1"])
        try await client.release(heater)
        // Not listed: denied, naming caller, instrument, action and the rule with its line.
        let denied = await #expect(throws: LabvisorError.self) { try await client.acquire(["stage-x"]) }
        let line = try Self.line(of: "control = [\"user:nobody-here\"]", in: configuration.file)
        #expect(denied?.code == .permissionDenied)
        #expect(
            denied?.message
                == "user \(Self.me) (uid \(getuid())) may not control stage-x (take its lease): [instrument stage-x] control = [\"user:nobody-here\"] (labvisord.toml line \(line))")
        // Observing is open there; an instrument the caller may not observe is not listed.
        #expect(try await client.get("stage-x", "position") != .null)
        #expect(try await client.list().map(\.name).sorted() == ["heater-1", "laser-488", "stage-x"])
        let hidden = await #expect(throws: LabvisorError.self) { try await client.describe("camera-1") }
        #expect(hidden?.code == .permissionDenied)
        // The CLI says so with exit code 6.
        let cli = try await daemon.labvisor(["set", "stage-x", "speed", "2"])
        #expect(cli.status == 6, "\(cli)")
        #expect(cli.errors.hasPrefix("error: permissionDenied: user \(Self.me)"), "\(cli.errors)")

        // This process's refusal (the CLI's `set` was refused the same lease, from its own pid).
        let actor = "user \(Self.me) (uid \(getuid())) pid \(getpid())"
        let entries = try await Self.audit(daemon) { entries in
            let denials = entries.filter { $0.action == "denied" }
            return denials.count >= 3 && denials.contains { $0.target == "stage-x" && $0.actor == actor }
                && denials.contains { $0.target == "camera-1" }
        }.filter { $0.action == "denied" }
        #expect(entries.count >= 3, "\(entries)")
        #expect(entries.contains { $0.target == "stage-x" && $0.detail == denied?.message && $0.actor == actor }, "\(entries)")
        #expect(entries.contains { $0.target == "camera-1" && $0.detail.contains("may not observe camera-1") })
    }

    @Test func aListNamingTheUserAllowsIt() async throws {
        let configuration = try Self.configuration(daemon: "", lists: ["stage-x": "control = [\"group:no-such-group\", \"user:\(Self.me)\"]"])
        defer { try? FileManager.default.removeItem(atPath: configuration.folder) }
        let daemon = try await Self.daemon(configuration)
        let client = try await daemon.connect()
        defer { Task { await client.close() } }
        let lease = try await client.acquire(["stage-x"])
        #expect(lease.instruments == ["stage-x"])
        // A query is narrowed to what the caller may control: all of it here.
        try await client.release(lease)
        #expect(try await client.acquire(where: ["name": "stage-x"]).instruments == ["stage-x"])
    }

    @Test func tlsWithATokenAuthenticatesAndWrongOrMissingTokensDoNot() async throws {
        let configuration = try Self.configuration(
            daemon: "tcp = \"127.0.0.1:0\"\ntokens = \"tokens\"\n[daemon.tls]\ncertificate = \"\(Self.tls)/server.pem\"\nkey = \"\(Self.tls)/server.key\"\n",
            lists: ["heater-1": "control = [\"token:ci-runner\"]", "laser-488": "observe = [\"user:\(Self.me)\"]"])
        defer { try? FileManager.default.removeItem(atPath: configuration.folder) }
        let daemon = try await Self.daemon(configuration)
        let port = try Self.tlsPort(daemon)
        let endpoint = Endpoint.tls(host: "127.0.0.1", port: port)
        let ca = "\(Self.tls)/ca.pem"

        let client = try await Labvisor.connect(to: endpoint, credentials: ClientCredentials(token: Self.token, caFile: ca))
        defer { Task { await client.close() } }
        #expect(try await client.status().instruments == 4)
        let lease = try await client.acquire(["heater-1"])
        #expect(lease.instruments == ["heater-1"])
        // The token's identity is not the unix user's.
        let denied = await #expect(throws: LabvisorError.self) { try await client.describe("laser-488") }
        #expect(denied?.message.hasPrefix("token ci-runner may not observe laser-488: [instrument laser-488] observe") == true)

        let wrong = await #expect(throws: LabvisorError.self) {
            try await Labvisor.connect(to: endpoint, credentials: ClientCredentials(token: "not-the-token", caFile: ca))
        }
        #expect(wrong?.code == .unauthenticated)
        let anonymous = try await Labvisor.connect(to: endpoint, credentials: ClientCredentials(caFile: ca))
        defer { Task { await anonymous.close() } }
        let refused = await #expect(throws: LabvisorError.self) { try await anonymous.status() }
        #expect(refused?.code == .unauthenticated)
        // A server certificate from an unknown CA is refused by the client.
        await #expect(throws: LabvisorError.self) {
            let untrusted = try await Labvisor.connect(to: endpoint, credentials: ClientCredentials(token: Self.token, caFile: "\(Self.tls)/stranger.pem"))
            await untrusted.close()
        }

        // The CLI, with --connect, --token and --ca.
        let status = try await daemon.labvisor(["status", "--connect", "tls://127.0.0.1:\(port)", "--token", Self.token, "--ca", ca])
        #expect(status.status == 0, "\(status.errors)")
        let bad = try await daemon.labvisor(["status", "--connect", "tls://localhost:\(port)", "--token", "nope", "--ca", ca])
        #expect(bad.status == 6, "\(bad)")
        #expect(bad.errors.hasPrefix("error: unauthenticated: the token is not valid"), "\(bad.errors)")

        let entries = try await Self.audit(daemon) { entries in
            entries.filter { $0.action == "authenticationFailed" }.count >= 2
                && entries.contains { $0.action == "denied" && $0.actor.hasPrefix("token ci-runner") }
        }
        #expect(entries.filter { $0.action == "authenticationFailed" }.count >= 2, "\(entries)")
        #expect(entries.contains { $0.action == "denied" && $0.actor.hasPrefix("token ci-runner") })
    }

    @Test func aClientCAMakesClientCertificatesRequired() async throws {
        let configuration = try Self.configuration(
            daemon: "tcp = \"127.0.0.1:0\"\n[daemon.tls]\ncertificate = \"\(Self.tls)/server.pem\"\nkey = \"\(Self.tls)/server.key\"\nclient_ca = \"\(Self.tls)/ca.pem\"\n",
            lists: ["heater-1": "control = [\"cert:ci-runner\"]"])
        defer { try? FileManager.default.removeItem(atPath: configuration.folder) }
        let daemon = try await Self.daemon(configuration)
        let endpoint = Endpoint.tls(host: "localhost", port: try Self.tlsPort(daemon))
        let ca = "\(Self.tls)/ca.pem"

        let client = try await Labvisor.connect(
            to: endpoint, credentials: ClientCredentials(caFile: ca, certificateFile: "\(Self.tls)/client.pem", keyFile: "\(Self.tls)/client.key"))
        defer { Task { await client.close() } }
        let lease = try await client.acquire(["heater-1"])
        #expect(lease.instruments == ["heater-1"])

        // No certificate, or one from another CA: the handshake fails, nothing is answered.
        for credentials in [
            ClientCredentials(caFile: ca),
            ClientCredentials(caFile: ca, certificateFile: "\(Self.tls)/stranger.pem", keyFile: "\(Self.tls)/stranger.key"),
        ] {
            let error = await #expect(throws: LabvisorError.self) {
                let refused = try await Labvisor.connect(to: endpoint, credentials: credentials)
                defer { Task { await refused.close() } }
                _ = try await refused.status()
            }
            #expect(error?.code == .unavailable, "\(String(describing: error))")
        }
    }

    @Test func insecureTCPOffLoopbackIsAConfigurationError() async throws {
        let configuration = try Self.configuration(daemon: "tcp = \"0.0.0.0:7420\"\ninsecure = true\n")
        defer { try? FileManager.default.removeItem(atPath: configuration.folder) }
        let labvisord = try DaemonProcess.products().appendingPathComponent("labvisord").path
        let result = try await CommandRun.run(labvisord, ["--check-config", configuration.file])
        #expect(result.status != 0)
        let line = try Self.line(of: "insecure = true", in: configuration.file)
        #expect(result.output.contains("invalid configuration \(configuration.file):\(line): daemon.insecure: insecure = true"), "\(result.output)")
        // On loopback it is allowed.
        try String(contentsOfFile: configuration.file, encoding: .utf8).replacingOccurrences(of: "0.0.0.0", with: "127.0.0.1")
            .write(toFile: configuration.file, atomically: true, encoding: .utf8)
        let loopback = try await CommandRun.run(labvisord, ["--check-config", configuration.file])
        #expect(loopback.status == 0, "\(loopback.output)")
        #expect(loopback.output.contains("tcp 127.0.0.1:7420: plain TCP (insecure, loopback)"))
    }
}
