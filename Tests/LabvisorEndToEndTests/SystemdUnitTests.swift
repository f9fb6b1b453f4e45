import Foundation
import LabvisorClient
import Testing

/// `config/labvisord.service`: `systemd-analyze verify` accepts it without a word, it has the
/// settings of the operations issue, and its runtime directory is where clients look.
@Suite("SystemdUnitTests", .timeLimit(.minutes(2)))
struct SystemdUnitTests {
    static let unitFile = DaemonProcess.root.appendingPathComponent("config/labvisord.service")

    /// The unit's `Key=value` lines (comments and sections dropped), in order.
    static func settings() throws -> [(key: String, value: String)] {
        try String(contentsOf: unitFile, encoding: .utf8).split(separator: "\n").compactMap { line in
            guard !line.hasPrefix("#"), !line.hasPrefix("["), let equals = line.firstIndex(of: "=") else { return nil }
            return (String(line[..<equals]), String(line[line.index(after: equals)...]))
        }
    }

    static func values(_ key: String) throws -> [String] {
        try settings().filter { $0.key == key }.map(\.value)
    }

    /// Runs `systemd-analyze verify` on the unit text with ExecStart= on the built labvisord.
    static func verify(_ text: String) async throws -> (status: Int32, output: String) {
        let analyze = try #require(
            CommandRun.executable(named: "systemd-analyze"), "systemd-analyze is missing: scripts/setup.sh installs the systemd package")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("unit-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let binary = try DaemonProcess.products().appendingPathComponent("labvisord").path
        let unit = folder.appendingPathComponent("labvisord.service")
        try text.replacingOccurrences(of: "ExecStart=/usr/local/bin/labvisord", with: "ExecStart=\(binary)")
            .write(to: unit, atomically: true, encoding: .utf8)
        return try await CommandRun.run(analyze, ["verify", unit.path], within: .seconds(60))
    }

    @Test func systemdAnalyzeVerifyPasses() async throws {
        let text = try String(contentsOf: Self.unitFile, encoding: .utf8)
        #expect(text.contains("ExecStart=/usr/local/bin/labvisord "), "the install script rewrites this path")
        let (status, output) = try await Self.verify(text)
        #expect(status == 0 && output.isEmpty, "systemd-analyze verify: exit \(status): \(output)")
        // The check can fail: a misspelt key is reported.
        let (_, misspelt) = try await Self.verify(text.replacingOccurrences(of: "DevicePolicy=closed", with: "DevicePolicy=closd"))
        #expect(misspelt.contains("device policy"), "\(misspelt)")
    }

    @Test func serviceSettings() throws {
        #expect(try Self.values("Type") == ["notify"])
        #expect(try Self.values("WatchdogSec").count == 1)
        #expect(try Self.values("Restart") == ["on-failure"])
        #expect(try Self.values("User") == ["labvisor"])
        #expect(try Self.values("Group") == ["labvisor"])
        #expect(try Self.values("StateDirectory") == ["labvisor"])
        #expect(try Self.values("ExecReload") == ["/bin/kill -HUP $MAINPID"])
        #expect(try Self.values("DevicePolicy") == ["closed"])
        let allowed = try Self.values("DeviceAllow")
        for device in ["char-ttyUSB rw", "char-ttyACM rw", "char-usb_device rw"] {
            #expect(allowed.contains(device), "DeviceAllow=\(device)")
        }
        let after = try Self.values("After").joined(separator: " ").split(separator: " ")
        #expect(after.contains("modprobe@usbserial.service") && after.contains("modprobe@cdc_acm.service"))
        #expect(try Self.values("ProtectSystem") == ["strict"])
        #expect(try Self.values("NoNewPrivileges") == ["yes"])
        #expect(try Self.values("CapabilityBoundingSet") == [""])
        let families = try Self.values("RestrictAddressFamilies").joined(separator: " ").split(separator: " ")
        #expect(Set(families) == ["AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"], "netlink carries udev's events")
        #expect(try Self.values("PrivateDevices").isEmpty, "PrivateDevices would hide the instruments")
        #expect(try Self.values("PrivateNetwork").isEmpty, "PrivateNetwork would cut udev's netlink events")
    }

    /// Clients find the socket by the endpoint rule: the service's runtime directory must be
    /// the folder the rule names, with or without the unit's LABVISOR_RUNTIME_DIR.
    @Test func runtimeDirectoryHoldsTheDefaultSocket() throws {
        let runtime = try #require(try Self.values("RuntimeDirectory").first)
        let expected = "/run/\(runtime)/labvisord.sock"
        #expect(expected == "/run/labvisor/labvisord.sock")
        let environment = try Self.values("Environment").first { $0.hasPrefix("LABVISOR_RUNTIME_DIR=") }
        let directory = try #require(environment).dropFirst("LABVISOR_RUNTIME_DIR=".count).replacingOccurrences(of: "%t", with: "/run")
        #expect(Endpoint.defaultSocketPath(["LABVISOR_RUNTIME_DIR": directory]) == expected)
        // A system service has no XDG_RUNTIME_DIR: the rule's last resort is the same place.
        #expect(Endpoint.defaultSocketPath([:]) == expected)
    }
}
