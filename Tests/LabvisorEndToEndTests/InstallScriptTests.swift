import Foundation
import LabvisorClient
import Testing

/// `scripts/install.sh` into a DESTDIR with the binaries already built, then
/// `scripts/uninstall.sh`: the tree it writes, the prefix in the unit and the config, an edited
/// configuration kept, and nothing left behind.
@Suite("InstallScriptTests", .timeLimit(.minutes(2)))
struct InstallScriptTests {
    static let scripts = DaemonProcess.root.appendingPathComponent("scripts")

    /// Every regular file under `folder`, relative to it, sorted.
    static func files(under folder: URL) -> [String] {
        let enumerator = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: [.isRegularFileKey])
        var files: [String] = []
        while let url = enumerator?.nextObject() as? URL {
            if (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
                files.append(String(url.path.dropFirst(folder.path.count)))
            }
        }
        return files.sorted()
    }

    @Test func installIntoDestdirThenUninstall() async throws {
        let destdir = FileManager.default.temporaryDirectory.appendingPathComponent("install-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: destdir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: destdir) }
        let products = try DaemonProcess.products().path
        let environment = ["DESTDIR": destdir.path, "PREFIX": "/opt/labvisor"]
        let install = try await CommandRun.run(
            Self.scripts.appendingPathComponent("install.sh").path, ["--skip-build", "--bin-dir", products], environment: environment)
        #expect(install.status == 0, "\(install.output)")
        #expect(install.output.contains("not creating the labvisor user and group"), "\(install.output)")

        let root = destdir.path
        let prefix = root + "/opt/labvisor"
        for binary in ["labvisord", "labvisor"] {
            #expect(FileManager.default.isExecutableFile(atPath: "\(prefix)/bin/\(binary)"), "\(binary) installed")
        }
        let unit = try String(contentsOfFile: root + "/etc/systemd/system/labvisord.service", encoding: .utf8)
        #expect(unit.contains("ExecStart=/opt/labvisor/bin/labvisord --config /etc/labvisor/labvisord.toml"))
        #expect(!unit.contains("/usr/local"), "every path follows PREFIX")
        let rules = try Data(contentsOf: URL(fileURLWithPath: root + "/etc/udev/rules.d/70-labvisor.rules"))
        #expect(rules == (try Data(contentsOf: DaemonProcess.root.appendingPathComponent("udev-rules/70-labvisor.rules"))))
        let config = try String(contentsOfFile: root + "/etc/labvisor/labvisord.toml", encoding: .utf8)
        #expect(config.contains("drivers = [\"/opt/labvisor/share/labvisor/drivers\"]"), "the config finds the installed manifests")
        let drivers = try FileManager.default.contentsOfDirectory(atPath: DaemonProcess.root.appendingPathComponent("drivers").path)
            .filter { FileManager.default.fileExists(atPath: DaemonProcess.root.appendingPathComponent("drivers/\($0)/driver.toml").path) }
        #expect(drivers.count >= 5)
        for driver in drivers {
            #expect(FileManager.default.fileExists(atPath: "\(prefix)/share/labvisor/drivers/\(driver)/driver.toml"), "\(driver)")
        }
        #expect(FileManager.default.fileExists(atPath: prefix + "/share/doc/labvisor/operations.md"))

        // The installed daemon reads the installed demo configuration and finds the installed drivers.
        let check = try await CommandRun.run(
            prefix + "/bin/labvisord", ["--check-config", prefix + "/share/labvisor/config/demo.toml"])
        #expect(check.status == 0 && check.output.contains(": ok: 5 instruments"), "\(check.output)")

        // A second install (an upgrade) keeps an edited configuration and drops what the
        // previous install wrote and this one does not ship (a driver since removed).
        let edited = config + "\n# edited by the operator\n"
        try edited.write(toFile: root + "/etc/labvisor/labvisord.toml", atomically: true, encoding: .utf8)
        let stale = "/opt/labvisor/share/labvisor/drivers/retired/driver.toml"
        try FileManager.default.createDirectory(atPath: root + "/opt/labvisor/share/labvisor/drivers/retired", withIntermediateDirectories: true)
        try "id = \"retired\"\n".write(toFile: root + stale, atomically: true, encoding: .utf8)
        let installed = root + "/opt/labvisor/share/labvisor/installed-files"
        try (try String(contentsOfFile: installed, encoding: .utf8) + stale + "\n").write(toFile: installed, atomically: true, encoding: .utf8)
        let again = try await CommandRun.run(
            Self.scripts.appendingPathComponent("install.sh").path, ["--skip-build", "--bin-dir", products], environment: environment)
        #expect(again.status == 0 && again.output.contains("kept the existing /etc/labvisor/labvisord.toml"), "\(again.output)")
        #expect(try String(contentsOfFile: root + "/etc/labvisor/labvisord.toml", encoding: .utf8) == edited)
        #expect(!FileManager.default.fileExists(atPath: root + stale), "\(again.output)")

        // Uninstall removes everything but the edited configuration; --purge that too.
        let uninstall = try await CommandRun.run(Self.scripts.appendingPathComponent("uninstall.sh").path, [], environment: environment)
        #expect(uninstall.status == 0, "\(uninstall.output)")
        #expect(Self.files(under: destdir) == ["/etc/labvisor/labvisord.toml"], "\(uninstall.output)")
        try FileManager.default.removeItem(atPath: root + "/etc/labvisor/labvisord.toml")
        try FileManager.default.removeItem(atPath: root + "/etc/labvisor")
        try FileManager.default.removeItem(atPath: root + "/etc")
        #expect(try FileManager.default.contentsOfDirectory(atPath: root) == [], "no folder left behind")
    }

    @Test func uninstallWithoutInstallSaysSo() async throws {
        let destdir = FileManager.default.temporaryDirectory.appendingPathComponent("install-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: destdir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: destdir) }
        let result = try await CommandRun.run(
            Self.scripts.appendingPathComponent("uninstall.sh").path, [], environment: ["DESTDIR": destdir.path])
        #expect(result.status == 1 && result.output.contains("nothing to uninstall"), "\(result.output)")
    }
}
