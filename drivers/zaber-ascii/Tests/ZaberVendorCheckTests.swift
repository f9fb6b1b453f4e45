import Foundation
import Glibc
import LabvisorSimulation
import Testing
import ZaberASCIISimulator

/// The simulator against Zaber's own host library, zaber-motion (pinned in
/// scripts/python-requirements.txt, installed by scripts/setup.sh into .venv-tools):
/// `vendor-check/zaber_motion_check.py` opens the simulator's PTY with
/// `Connection.open_serial_port` and runs detection, generic commands, moves and rejections.
@Suite("ZaberVendorCheckTests", .timeLimit(.minutes(1)))
struct ZaberVendorCheckTests {
    static var repositoryRoot: URL {
        ZaberHarness.driverFolder.deletingLastPathComponent().deletingLastPathComponent()
    }

    @Test func zaberMotionAcceptsTheSimulator() async throws {
        let python = Self.repositoryRoot.appendingPathComponent(".venv-tools/bin/python3").path
        guard FileManager.default.isExecutableFile(atPath: python) else {
            Issue.record("\(python) is missing: run scripts/setup.sh to install zaber-motion for this check")
            return
        }
        let device = try SimulatedSerialDevice(model: ZaberSimulatedController(deviceNumber: 1, axisCount: 2))
        device.start()
        defer { device.stop() }
        let script = ZaberHarness.driverFolder.appendingPathComponent("vendor-check/zaber_motion_check.py").path
        let (status, output) = try await Self.run(python, [script, device.path], timeout: .seconds(50))
        #expect(status == 0, "zaber_motion_check.py failed:\n\(output)")
        #expect(output.contains("ALL CHECKS PASSED"), "\(output)")
        #expect(!output.contains("FAIL "), "\(output)")
        #expect(device.withModel { $0.badChecksums } == 0, "zaber-motion's checksums are accepted")
        #expect(device.withModel { $0.received.contains { $0.contains(":") } }, "zaber-motion sends checksums")
    }

    /// Runs `executable`, returning its exit status and output; killed past `timeout`.
    static func run(_ executable: String, _ arguments: [String], timeout: Duration) async throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let pid = process.processIdentifier
        let killer = Task {
            try await Task.sleep(for: timeout)
            kill(pid, SIGKILL)
        }
        defer { killer.cancel() }
        let reader = pipe.fileHandleForReading
        // The read blocks until the process exits (or is killed): on a thread of its own, not
        // on the cooperative pool.
        let output = await withCheckedContinuation { (continuation: CheckedContinuation<String, Never>) in
            Thread {
                continuation.resume(returning: String(decoding: reader.readDataToEndOfFile(), as: UTF8.self))
            }.start()
        }
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }
}
