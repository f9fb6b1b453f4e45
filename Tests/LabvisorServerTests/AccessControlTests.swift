import Foundation
import LabvisorServer
import Testing

@Suite("AccessControlTests")
struct AccessControlTests {
    static let fixtures = DaemonConfigurationTests.root.appendingPathComponent("Tests/Fixtures/tls").path

    static let alice = CallerIdentity(user: "alice", uid: 1000, groups: ["alice", "optics"])
    static let bob = CallerIdentity(user: "bob", uid: 1001, groups: ["bob", "lab"])
    static let runner = CallerIdentity(token: "ci-runner", address: "127.0.0.1:5000")

    static func policy(_ text: String) throws -> AccessPolicy {
        try DaemonConfiguration.parse(text, file: "/etc/labvisor/labvisord.toml").access
    }

    static let lab = """
        [access]
        observe = ["group:lab", "group:optics"]
        administer = ["user:alice"]

        [[instrument]]
        name = "laser-488"
        driver = "coherent-obis"
        simulate = "coherent-obis"
        control = ["group:optics", "token:ci-runner"]

        [[instrument]]
        name = "stage-x"
        driver = "zaber-ascii"
        simulate = "zaber-ascii"
        observe = ["*"]
        """

    @Test func entriesParseAndMatch() throws {
        #expect(try AccessEntry(parsing: "user:alice") == .user("alice"))
        #expect(try AccessEntry(parsing: "group:lab") == .group("lab"))
        #expect(try AccessEntry(parsing: "token:ci-runner") == .token("ci-runner"))
        #expect(try AccessEntry(parsing: "cert:lab-pc-3") == .certificate("lab-pc-3"))
        #expect(try AccessEntry(parsing: "*") == .anyone)
        for bad in ["alice", "user:", "role:admin", ""] {
            #expect(throws: LabvisorError.self) { try AccessEntry(parsing: bad) }
        }
        #expect(Self.alice.matches(.user("alice")) && Self.alice.matches(.user("1000")) && Self.alice.matches(.group("optics")))
        #expect(!Self.bob.matches(.group("optics")) && !Self.bob.matches(.token("bob")))
        #expect(Self.runner.matches(.token("ci-runner")) && Self.runner.matches(.anyone) && !Self.runner.matches(.user("ci-runner")))
    }

    @Test func noListsAllowEverything() {
        let open = AccessPolicy()
        #expect(open.isOpen)
        #expect(open.grants(for: CallerIdentity()) == .everything)
        for level in AccessLevel.allCases { #expect(open.allows(Self.bob, level, instrument: "anything")) }
    }

    @Test func instrumentListsDefaultsAndLevelsCombine() throws {
        let policy = try Self.policy(Self.lab)
        // laser-488: control from its own list; observe from [access]; administer from [access].
        #expect(policy.allows(Self.alice, .control, instrument: "laser-488"))
        #expect(policy.allows(Self.bob, .observe, instrument: "laser-488"))
        #expect(!policy.allows(Self.bob, .control, instrument: "laser-488"))
        #expect(policy.allows(Self.runner, .control, instrument: "laser-488"))
        // Whoever may control may observe, though [access] observe does not name the token.
        #expect(policy.allows(Self.runner, .observe, instrument: "laser-488"))
        #expect(!policy.allows(Self.runner, .administer, instrument: "laser-488"))
        // stage-x: observe by anyone; control falls back to the nearest lower list (its own observe).
        #expect(policy.allows(Self.runner, .control, instrument: "stage-x"))
        // An instrument without lists: [access] only; control falls back to [access] observe.
        #expect(policy.allows(Self.bob, .control, instrument: "heater-1"))
        #expect(!policy.allows(Self.runner, .observe, instrument: "heater-1"))
        #expect(policy.allows(Self.alice, .administer, instrument: nil))
        #expect(!policy.allows(Self.bob, .administer, instrument: nil))
    }

    @Test func grantsAreTheSameAnswersAsThePolicy() throws {
        let policy = try Self.policy(Self.lab)
        for caller in [Self.alice, Self.bob, Self.runner, CallerIdentity(address: "127.0.0.1:1")] {
            let grants = policy.grants(for: caller)
            for instrument in ["laser-488", "stage-x", "heater-1", nil] {
                for level in AccessLevel.allCases {
                    #expect(
                        grants.permit(level, instrument: instrument) == policy.allows(caller, level, instrument: instrument),
                        "\(caller) \(level) \(instrument ?? "daemon")")
                }
            }
        }
    }

    @Test func denialNamesCallerInstrumentActionAndRuleWithItsLine() throws {
        let policy = try Self.policy(Self.lab)
        let error = policy.denial(of: Self.bob, .control, instrument: "laser-488")
        #expect(error.code == .permissionDenied)
        #expect(
            error.message
                == "user bob (uid 1001) may not control laser-488: [instrument laser-488] control = [\"group:optics\", \"token:ci-runner\"] (labvisord.toml line 9)")
        #expect(error.fields["instrument"] == "laser-488")
        #expect(error.fields["level"] == "control")
        let daemonWide = policy.denial(of: Self.bob, .administer, instrument: nil, action: "read the audit log")
        #expect(daemonWide.message == "user bob (uid 1001) may not read the audit log: [access] administer = [\"user:alice\"] (labvisord.toml line 3)")
    }

    @Test func connectionChecksAfterAuthentication() throws {
        let tokens = try TokenFile(parsing: TokenFile.line(name: "ci-runner", token: "s3cret-token") + "\n", file: "tokens")
        let access = ConnectionAccess(unauthenticated: "127.0.0.1:5000", policy: try Self.policy(Self.lab), tokens: tokens, verifiesCertificates: false)
        #expect(!access.isAuthenticated)
        #expect(throws: LabvisorError.self) { try access.check(.observe, instrument: "stage-x") }
        let wrong = #expect(throws: LabvisorError.self) { try access.authenticate(token: "guess") }
        #expect(wrong?.code == .unauthenticated)
        #expect(!access.isAuthenticated)
        // Without a client CA, a certificate name is not taken.
        access.certificateVerified(commonName: "alice")
        #expect(!access.isAuthenticated)
        #expect(try access.authenticate(token: "s3cret-token").token == "ci-runner")
        try access.check(.control, instrument: "laser-488")
        let denied = #expect(throws: LabvisorError.self) { try access.check(.observe, instrument: "heater-1") }
        #expect(denied?.code == .permissionDenied)
        #expect(denied?.message.contains("token ci-runner may not observe heater-1: [access] observe") == true, "\(denied?.message ?? "")")
    }

    @Test func tokenFileParsesAndFindsTokens() throws {
        let text = """
            # CI and the lab PC
            ci-runner:\(SHA256Digest.hex("token-one"))

            lab-pc-3 : \(SHA256Digest.hex("token-two").uppercased())
            """
        let file = try TokenFile(parsing: text, file: "/etc/labvisor/tokens")
        #expect(file.name(of: "token-one") == "ci-runner")
        #expect(file.name(of: "token-two") == "lab-pc-3")
        #expect(file.name(of: "token-three") == nil)
        #expect(TokenFile.line(name: "x", token: "abc") == "x:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test(arguments: [
        ("ci-runner\n", 1, "expected NAME:SHA256HEX"),
        ("# c\nci-runner:abc\n", 2, "must be 64 hex digits"),
        ("a b:\(String(repeating: "0", count: 64))\n", 1, "not a token name"),
        ("a:\(String(repeating: "0", count: 64))\na:\(String(repeating: "1", count: 64))\n", 2, "named twice"),
        ("a:\(String(repeating: "0", count: 64))\nb:\(String(repeating: "0", count: 64))\n", 2, "same hash"),
    ])
    func tokenFileErrorsNameTheLine(_ text: String, _ line: Int, _ reason: String) {
        let error = #expect(throws: LabvisorError.self) { try TokenFile(parsing: text, file: "tokens") }
        #expect(error?.code == .invalidArgument)
        #expect(error?.fields["line"] == .int(line))
        #expect(error?.message.hasPrefix("invalid tokens file tokens:\(line): ") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains(reason) == true, "\(error?.message ?? "")")
    }

    @Test func sha256MatchesTheStandardsVectors() {
        #expect(SHA256Digest.hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256Digest.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            SHA256Digest.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(
            SHA256Digest.hex(String(repeating: "a", count: 1_000_000)) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func unixAccountsKnowRoot() {
        let root = UnixAccounts.identity(uid: 0)
        #expect(root.user == "root")
        #expect(root.groups.contains("root"))
        #expect(UnixAccounts.groupID("root") == 0)
        #expect(UnixAccounts.groupID("no-such-group-\(getpid())") == nil)
        // A uid without a passwd entry is its number only.
        let unknown = UnixAccounts.identity(uid: 3_999_999_999)
        #expect(unknown.user == nil && unknown.groups.isEmpty && unknown.matches(.user("3999999999")))
    }

    @Test func tlsListenerConfigurationReadsFilesTokensAndClientCA() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try "ci-runner:\(SHA256Digest.hex("t"))\n".write(toFile: folder.file("tokens"), atomically: true, encoding: .utf8)
        let text = """
            [daemon]
            tcp = "0.0.0.0:7420"
            tokens = "tokens"
            [daemon.tls]
            certificate = "\(Self.fixtures)/server.pem"
            key = "\(Self.fixtures)/server.key"
            client_ca = "\(Self.fixtures)/ca.pem"
            """
        let configuration = try DaemonConfiguration.parse(text, file: folder.file("labvisord.toml"))
        let tcp = try #require(configuration.tcp)
        #expect(tcp.address == ListenAddress(host: "0.0.0.0", port: 7420))
        #expect(tcp.tokens?.name(of: "t") == "ci-runner")
        #expect(tcp.tls?.clientCA == "\(Self.fixtures)/ca.pem")
        #expect(!tcp.insecure)
        let insecure = try DaemonConfiguration.parse("[daemon]\ntcp = \"[::1]:7420\"\ninsecure = true\n", file: "lab.toml")
        #expect(insecure.tcp?.insecure == true && insecure.tcp?.tls == nil)
        #expect(DaemonConfiguration().tcp == nil)
        // A tokens file that does not parse names its own file and line.
        try "ci-runner\n".write(toFile: folder.file("tokens"), atomically: true, encoding: .utf8)
        let error = #expect(throws: LabvisorError.self) { try DaemonConfiguration.parse(text, file: folder.file("labvisord.toml")) }
        #expect(error?.message.contains("tokens:1") == true, "\(error?.message ?? "")")
    }
}
