import Foundation
import LabvisorServer
import Testing

@Suite("DaemonConfigurationTests")
struct DaemonConfigurationTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func shippedFilesParse() throws {
        let demo = try DaemonConfiguration.load(Self.root.appendingPathComponent("config/demo.toml").path)
        #expect(demo.instruments.map(\.name) == ["stage-x", "stage-z", "laser-488", "heater-1", "camera-1"])
        #expect(demo.instruments.allSatisfy { $0.simulate == $0.driver })
        #expect(demo.driverSearchPath == [Self.root.appendingPathComponent("drivers").path])
        #expect(demo.instruments[2].tags["wavelength_nm"] == 488)
        let defaults = try DaemonConfiguration.load(Self.root.appendingPathComponent("config/labvisord.toml").path)
        #expect(defaults.instruments.isEmpty)
        #expect(defaults.maxClients == 64)
        #expect(defaults.maxMessageSize == DaemonConfiguration().maxMessageSize, "the shipped file states the default")
        #expect(defaults.maxMessageSize == 64 << 20)
        #expect(defaults.defaultCallTimeout == .seconds(30))
        #expect(defaults.historyDays == nil, "the history is kept whole unless the operator says")
    }

    @Test func pinsAndValues() throws {
        let configuration = try DaemonConfiguration.parse(
            """
            [daemon]
            socket = "/tmp/x.sock"
            call_timeout = 2.5
            max_message_size = 4096
            history_days = 90
            [[instrument]]
            name = "stage-x"
            driver = "thorlabs-apt"
            serial = "83836541"
            linger = 10
            [[instrument]]
            name = "cam"
            driver = "uvc-camera"
            port_path = "1-3.2"
            """, file: "lab.toml")
        #expect(configuration.socket == "/tmp/x.sock")
        #expect(configuration.defaultCallTimeout == .seconds(2.5))
        #expect(configuration.maxMessageSize == 4096)
        #expect(configuration.historyDays == 90)
        #expect(configuration.instruments[0].pin?.selector == .serial("83836541"))
        #expect(configuration.instruments[0].linger == .seconds(10))
        #expect(configuration.instruments[1].pin?.selector == .portPath("1-3.2"))
        #expect(configuration.stateDirectory == nil)
    }

    @Test func stateDirectoryIsAbsoluteOrTakenFromTheFilesFolder() throws {
        let absolute = try DaemonConfiguration.parse("[daemon]\nstate_dir = \"/var/lib/labvisor\"\n", file: "/etc/labvisor/labvisord.toml")
        #expect(absolute.stateDirectory == "/var/lib/labvisor")
        let relative = try DaemonConfiguration.parse("[daemon]\nstate_dir = \"state\"\n", file: "/srv/lab/labvisord.toml")
        #expect(relative.stateDirectory == "/srv/lab/state")
    }

    struct BadCase: Sendable, CustomTestStringConvertible {
        let text: String
        let key: String
        let line: Int?
        let reason: String
        var testDescription: String { key }
    }

    static let bad: [BadCase] = [
        BadCase(text: "[daemon]\nmax_clients = \"many\"\n", key: "daemon.max_clients", line: 2, reason: "expected an integer"),
        BadCase(text: "[daemon]\nmax_clients = 0\n", key: "daemon.max_clients", line: 2, reason: "out of range"),
        BadCase(text: "[daemon]\n\nhistory_days = 0\n", key: "daemon.history_days", line: 3, reason: "out of range"),
        BadCase(text: "[daemon]\nhistory_days = \"1y\"\n", key: "daemon.history_days", line: 2, reason: "integer"),
        BadCase(text: "[daemon]\nmax_message_size = 100\n", key: "daemon.max_message_size", line: 2, reason: "out of range"),
        BadCase(text: "[daemon]\nlisten = 3\n", key: "daemon.listen", line: 2, reason: "unknown key"),
        BadCase(text: "colour = 1\n", key: "colour", line: 1, reason: "unknown key"),
        BadCase(text: "[[instrument]]\nname = \"a\"\ndriver = \"x\"\n", key: "instrument[0].name", line: 2, reason: "needs a pin"),
        BadCase(
            text: "[[instrument]]\nname = \"a\"\ndriver = \"x\"\nserial = \"1\"\nsimulate = \"x\"\n", key: "instrument[0].simulate",
            line: 5, reason: "not several"),
        BadCase(text: "[[instrument]]\nname = \"A b\"\ndriver = \"x\"\nsimulate = \"x\"\n", key: "instrument[0].name", line: 2, reason: "lowercase"),
        BadCase(
            text: "[[instrument]]\nname = \"a\"\ndriver = \"x\"\nsimulate = \"x\"\n[[instrument]]\nname = \"a\"\ndriver = \"x\"\nsimulate = \"x\"\n",
            key: "instrument[1].name", line: 6, reason: "names two instruments"),
        BadCase(text: "[daemon\n", key: "", line: 1, reason: "TOML syntax"),
        BadCase(text: "[daemon]\nstate_dir = 5\n", key: "daemon.state_dir", line: 2, reason: "expected a string"),
        BadCase(text: "[daemon]\nstate_dir = \"\"\n", key: "daemon.state_dir", line: 2, reason: "must name a folder"),
        // The TCP listener: plain TCP only on loopback, never without a way to identify clients.
        BadCase(
            text: "[daemon]\ntcp = \"0.0.0.0:7420\"\ninsecure = true\n", key: "daemon.insecure", line: 3,
            reason: "allowed only on a loopback address"),
        BadCase(text: "[daemon]\ntcp = \"127.0.0.1:7420\"\n", key: "daemon.tcp", line: 2, reason: "needs TLS"),
        BadCase(text: "[daemon]\ninsecure = true\n", key: "daemon.insecure", line: 2, reason: "needs tcp"),
        BadCase(text: "[daemon]\ntcp = \"nowhere\"\ninsecure = true\n", key: "daemon.tcp", line: 2, reason: "is not HOST:PORT"),
        BadCase(
            text: "[daemon]\ntcp = \"127.0.0.1:7420\"\n[daemon.tls]\ncertificate = \"/nonexistent/server.pem\"\nkey = \"/nonexistent/server.key\"\n",
            key: "daemon.tls.certificate", line: 4, reason: "cannot read /nonexistent/server.pem"),
        // Access lists.
        BadCase(
            text: "[[instrument]]\nname = \"a\"\ndriver = \"x\"\nsimulate = \"x\"\ncontrol = [\"bob\"]\n", key: "instrument[0].control",
            line: 5, reason: "'bob' is not an access entry"),
        BadCase(text: "[access]\nobserve = [\"who:x\"]\n", key: "access.observe", line: 2, reason: "not an access entry"),
        BadCase(text: "[access]\nread = [\"*\"]\n", key: "access.read", line: 2, reason: "unknown key"),
    ]

    @Test(arguments: bad)
    func errorsNameFileLineKeyAndReason(_ testCase: BadCase) {
        let error = #expect(throws: LabvisorError.self) { try DaemonConfiguration.parse(testCase.text, file: "lab.toml") }
        #expect(error?.code == .invalidArgument)
        #expect(error?.fields["file"] == "lab.toml")
        #expect(error?.fields["key"] == .string(testCase.key))
        #expect(error?.fields["line"] == testCase.line.map { .int($0) })
        #expect(error?.message.contains(testCase.reason) == true, "\(error?.message ?? "")")
        #expect(error?.message.hasPrefix("invalid configuration lab.toml") == true)
    }

    @Test func missingFileIsNotFound() {
        let error = #expect(throws: LabvisorError.self) { try DaemonConfiguration.load("/nonexistent/labvisord.toml") }
        #expect(error?.code == .notFound)
    }
}
