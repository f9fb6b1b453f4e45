import Foundation
import LabvisorDriverTesting
import LabvisorServer
import Logging
import ServiceLifecycle
import Testing

/// Access lists and tokens replaced while connections are open (`AccessInForce`, what a
/// configuration reload does), and refusals before authentication in the audit log
/// (`RefusalAudit`) within their limits.
@Suite("AccessReloadTests", .timeLimit(.minutes(1)))
struct AccessReloadTests {
    static let alice = AccessControlTests.alice

    static func policy(_ text: String) throws -> AccessPolicy { try AccessControlTests.policy(text) }

    static func tokens(_ entries: [(name: String, token: String)]) throws -> TokenFile {
        try TokenFile(parsing: entries.map { TokenFile.line(name: $0.name, token: $0.token) }.joined(separator: "\n") + "\n", file: "tokens")
    }

    @Test func replacedListsApplyToOpenConnectionsAtTheirNextCheck() throws {
        let rules = AccessInForce(policy: try Self.policy("[access]\ncontrol = [\"group:optics\"]\n"))
        #expect(rules.number == 1)
        #expect(!rules.isOpen)
        let connection = ConnectionAccess(identity: Self.alice, rules: rules)
        try connection.check(.control, instrument: "laser-488")
        #expect(connection.permits(.control, instrument: nil))

        let next = rules.replace(policy: try Self.policy("[access]\nobserve = [\"group:optics\"]\ncontrol = [\"user:bob\"]\n"), tokens: nil)
        #expect(next.number == 2 && rules.number == 2)
        // Computed again at the next check: alice lost control, kept observe.
        let denied = #expect(throws: LabvisorError.self) { try connection.check(.control, instrument: "laser-488") }
        #expect(denied?.code == .permissionDenied)
        #expect(denied?.message == "user alice (uid 1000) may not control laser-488: [access] control = [\"user:bob\"] (labvisord.toml line 3)")
        try connection.check(.observe, instrument: "laser-488")
        #expect(!connection.grants.permit(.control, instrument: nil))
        // A connection made now gets the new lists too.
        #expect(!ConnectionAccess(identity: Self.alice, rules: rules).permits(.control, instrument: "laser-488"))

        // No lists any more: everything, without a lock.
        rules.replace(policy: AccessPolicy(), tokens: nil)
        #expect(rules.isOpen)
        #expect(connection.isUnrestricted)
        try connection.check(.administer, instrument: nil)
    }

    @Test func aTokenTakenOutOfTheTokensFileNoLongerIdentifiesItsConnection() throws {
        let lists = try Self.policy("[access]\ncontrol = [\"token:ci-runner\", \"token:renamed\", \"cert:lab-pc\"]\n")
        let rules = AccessInForce(policy: lists, tokens: try Self.tokens([("ci-runner", "s3cret"), ("other", "0ther")]))
        let connection = ConnectionAccess(unauthenticated: "127.0.0.1:5000", rules: rules, verifiesCertificates: true)
        let certified = ConnectionAccess(unauthenticated: "127.0.0.1:5001", rules: rules, verifiesCertificates: true)
        try connection.authenticate(token: "s3cret")
        certified.certificateVerified(commonName: "lab-pc")
        try certified.authenticate(token: "s3cret")
        try connection.check(.control, instrument: "stage-x")

        // The same token under another name: the connection is that name now.
        rules.replace(policy: lists, tokens: try Self.tokens([("renamed", "s3cret"), ("other", "0ther")]))
        #expect(connection.identity.token == "renamed")
        try connection.check(.control, instrument: "stage-x")

        // Revoked: anonymous again, told why; a certificate still identifies the other one.
        rules.replace(policy: lists, tokens: try Self.tokens([("other", "0ther")]))
        #expect(!connection.isAuthenticated)
        #expect(connection.identity.token == nil)
        let refused = #expect(throws: LabvisorError.self) { try connection.check(.observe, instrument: "stage-x") }
        #expect(refused?.code == .unauthenticated)
        #expect(refused?.message.hasPrefix("token renamed, which this connection authenticated with, is no longer in the daemon's tokens file") == true)
        #expect(connection.unauthenticatedError.fields["reason"] == "token revoked")
        let wrong = #expect(throws: LabvisorError.self) { try connection.authenticate(token: "s3cret") }
        #expect(wrong?.code == .unauthenticated)
        #expect(certified.isAuthenticated)
        #expect(certified.identity.token == nil && certified.identity.certificate == "lab-pc")
        try certified.check(.control, instrument: "stage-x")
        // A token still in the file authenticates it again.
        #expect(try connection.authenticate(token: "0ther").token == "other")
        #expect(connection.isAuthenticated)
        #expect(!connection.permits(.control, instrument: "stage-x"))
    }

    @Test func aUnixPeerConnectedWithoutListsIsLookedUpWhenListsArrive() throws {
        let rules = AccessInForce()
        let root = ConnectionAccess(unixPeer: 0, rules: rules)
        #expect(root.isUnrestricted)
        #expect(root.identity.user == nil, "no lists: no account lookup at connect")
        rules.replace(policy: try Self.policy("[access]\ncontrol = [\"user:root\"]\n"), tokens: nil)
        try root.check(.control, instrument: "stage-x")
        #expect(root.identity.user == "root")
        #expect(!ConnectionAccess(unixPeer: 65_533, rules: rules).permits(.control, instrument: "stage-x"))
    }

    @Test func reloadChangesNameAccessListsAndTokensButNotListsThatOnlyMoved() throws {
        var old = DaemonConfiguration()
        old.access = try Self.policy("[access]\ncontrol = [\"group:optics\"]\n")
        old.tcp = TCPListenerConfiguration(address: try ListenAddress(parsing: "127.0.0.1:7420", key: "tcp"), tokens: try Self.tokens([("a", "1")]), insecure: true)
        var moved = old
        moved.access = try Self.policy("\n\n[access]\ncontrol = [\"group:optics\"]\n")
        #expect(moved.access != old.access, "the rule's line differs")
        let none = ConfigurationChange(from: old, to: moved)
        #expect(!none.accessChanged && !none.tokensChanged)
        #expect(none.summary == "no instrument changes")

        var new = old
        new.access = try Self.policy("[access]\ncontrol = [\"group:optics\", \"user:bob\"]\n")
        new.tcp?.tokens = try Self.tokens([("a", "1"), ("b", "2")])
        new.tcp?.address = try ListenAddress(parsing: "127.0.0.1:7421", key: "tcp")
        let change = ConfigurationChange(from: old, to: new)
        #expect(change.accessChanged && change.tokensChanged)
        #expect(change.restartSettings == ["tcp"])
        #expect(change.summary == "no instrument changes; access lists changed; tokens changed")
    }

    @Test func reloadPutsNewListsAndTokensInForceAndABadTokensFileRejectsIt() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let file = folder.file("labvisord.toml")
        let listener = "tcp = \"127.0.0.1:7420\"\ninsecure = true\ntokens = \"tokens\"\n"
        let text = ConfigurationReloadTests.text([("heater-1", "example-heater")]).replacingOccurrences(of: "linger = 2\n", with: "linger = 2\n" + listener)
        try (text + "control = [\"token:ci-runner\"]\n").write(toFile: file, atomically: true, encoding: .utf8)
        try (TokenFile.line(name: "ci-runner", token: "s3cret") + "\n").write(toFile: folder.file("tokens"), atomically: true, encoding: .utf8)
        let (configuration, manifests) = try DaemonConfiguration.loadWithDrivers(file, drivers: nil)
        let supervisor = Supervisor()
        let logger = Logger(label: "test")
        let simulators = try SimulatedInstruments(supervisor: supervisor, configuration: configuration, manifests: manifests, logger: logger)
        let rules = AccessInForce(policy: configuration.access, tokens: configuration.tcp?.tokens)
        let reload = ConfigurationReload(
            configuration: configuration, supervisor: supervisor, simulators: simulators, discovery: nil, access: rules, logger: logger)
        let runner = ConnectionAccess(identity: CallerIdentity(address: "127.0.0.1:5000"), rules: rules, acceptsTokens: true)
        try runner.authenticate(token: "s3cret")
        try runner.check(.control, instrument: "heater-1")

        // A malformed tokens file (and new lists beside it): nothing of it applies.
        try (TokenFile.line(name: "ci-runner", token: "s3cret") + "\nnot a token line\n").write(toFile: folder.file("tokens"), atomically: true, encoding: .utf8)
        try (text + "control = [\"user:nobody-here\"]\n").write(toFile: file, atomically: true, encoding: .utf8)
        guard case .rejected(let error) = await reload.reload(by: "test") else {
            Issue.record("a malformed tokens file was accepted")
            return
        }
        #expect(error.message.hasPrefix("invalid tokens file \(folder.file("tokens")):2: expected NAME:SHA256HEX"), "\(error.message)")
        #expect(rules.number == 1)
        try runner.check(.control, instrument: "heater-1")

        // Fixed: the new lists and the new tokens are in force.
        try (TokenFile.line(name: "other", token: "0ther") + "\n").write(toFile: folder.file("tokens"), atomically: true, encoding: .utf8)
        guard case .applied(let change) = await reload.reload(by: "test") else {
            Issue.record("the reload was rejected")
            return
        }
        #expect(change.summary == "no instrument changes; access lists changed; tokens changed")
        #expect(rules.number == 2)
        #expect(rules.current.tokens?.names.values.sorted() == ["other"])
        #expect(reload.configuration.tcp?.tokens == rules.current.tokens)
        #expect(runner.identity.token == nil)
        let denied = #expect(throws: LabvisorError.self) { try runner.check(.control, instrument: "heater-1") }
        #expect(denied?.message.contains("control = [\"user:nobody-here\"]") == true)
        await supervisor.shutdown()
    }

    @Test func refusalsAreRecordedUpToTheLimitsAndTheRestAreCounted() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let logger = Logger(label: "test.refusals")
        let events = EventBus()
        let service = StoreService(store: try StateStore(directory: folder.path), events: events, logger: logger)
        let supervisor = Supervisor(events: events, store: service, logger: logger)
        let group = ServiceGroup(services: [service], logger: logger)
        let running = Task { try await group.run() }
        let clock = LockedState(ContinuousClock.now)
        let audit = RefusalAudit(supervisor: supervisor, perConnection: 2, perWindow: 5, window: .seconds(60)) { clock.withLock { $0 } }
        let client = ClientRef(id: 1, name: "tcp 10.0.0.7:5000")

        // One connection: 2 recorded, 3 counted, summed up at close.
        let garbage = ConnectionAccess(unauthenticated: "10.0.0.7:5000", policy: AccessPolicy(), tokens: nil, verifiesCertificates: false)
        for index in 0..<5 { audit.requestRefused(garbage, client: client, action: "unauthenticated", method: "m\(index)", reason: "no") }
        audit.closed(garbage, client: client)
        audit.closed(garbage, client: client)  // nothing left to sum up
        // Daemon-wide: 3 entries so far, 2 more fit in the window, the rest are counted...
        for index in 0..<4 { audit.connectionRefused(peer: "uid \(index)", reason: "full") }
        // ...and summed up with the first refusal of a later window.
        clock.withLock { $0 += .seconds(61) }
        audit.connectionRefused(peer: "uid 9", reason: "full")

        await group.triggerGracefulShutdown()
        try await withTimeLimit { try await running.value }
        let store = try StateStore(directory: folder.path)
        defer { store.close() }
        let entries = try await store.audit(HistoryQuery(limit: 100)).reversed().map { "\($0.actor)|\($0.action)|\($0.target)|\($0.detail)" }
        #expect(
            entries == [
                "anonymous tcp peer 10.0.0.7:5000|unauthenticated|m0|no",
                "anonymous tcp peer 10.0.0.7:5000|unauthenticated|m1|no",
                "anonymous tcp peer 10.0.0.7:5000|refusalsOmitted|connection|3 more refusals on this connection were not recorded one by one (the first 2 were); the last: unauthenticated m4: no",
                "uid 0|refused|connection|full",
                "uid 1|refused|connection|full",
                "labvisord|refusalsOmitted|daemon|2 refusals were not recorded one by one: more than 5 in 60.0 seconds",
                "uid 9|refused|connection|full",
            ])
    }

    @Test func messagesRefusedBeforeAuthenticationAreAuditedAndAfterItAreNot() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let logger = Logger(label: "test.refusals")
        let events = EventBus()
        let service = StoreService(store: try StateStore(directory: folder.path), events: events, logger: logger)
        let supervisor = Supervisor(events: events, store: service, logger: logger)
        let group = ServiceGroup(services: [service], logger: logger)
        let running = Task { try await group.run() }
        let dispatcher = RPCDispatcher(supervisor: supervisor, clientCount: { 1 }, maxClients: 4, demo: false)
        let session = supervisor.connect(ClientRef(id: 1, name: "tcp 10.0.0.7:5000"))
        let access = ConnectionAccess(
            unauthenticated: "10.0.0.7:5000", policy: AccessPolicy(), tokens: try Self.tokens([("ci-runner", "s3cret")]), verifiesCertificates: false)
        let messages = [
            "not json", "[1]", #"{"jsonrpc":"2.0","id":1}"#, #"{"jsonrpc":"2.0","id":2,"method":"daemon.status"}"#,
            #"{"jsonrpc":"2.0","id":3,"method":"session.authenticate","params":{}}"#,
            #"{"jsonrpc":"2.0","id":4,"method":"session.authenticate","params":{"token":"s3cret"}}"#,
            "not json either", #"{"jsonrpc":"2.0","id":5,"method":"daemon.status"}"#,
        ]
        for message in messages {
            guard case .now = dispatcher.handle(Array(message.utf8), from: session, access: access) else {
                Issue.record("\(message) was not answered at once")
                continue
            }
        }
        #expect(access.identity.token == "ci-runner")
        dispatcher.refusals.closed(access, client: session.client)

        await group.triggerGracefulShutdown()
        try await withTimeLimit { try await running.value }
        let store = try StateStore(directory: folder.path)
        defer { store.close() }
        let entries = try await store.audit(HistoryQuery(limit: 100)).reversed()
        #expect(Set(entries.map(\.actor)) == ["anonymous tcp peer 10.0.0.7:5000"])
        #expect(
            entries.map { "\($0.action) \($0.target)" } == [
                "refused (not JSON)", "refused (not a request)", "refused (not a request)", "unauthenticated daemon.status",
                "refused session.authenticate",
            ])
        #expect(entries.last?.detail == "invalid params for session.authenticate: missing member 'token'")
    }
}
