import Foundation
import LabvisorDriverKit
import LabvisorSimulation
import ThorlabsAPTSimulator
import Testing

/// The simulator as Thorlabs' own host library sees it: `thorlabs-apt-device`'s KDC101
/// class (installed in .venv-tools by scripts/setup.sh) drives it through its PTY.
@Suite("VendorLibraryCheckTests", .timeLimit(.minutes(1)))
struct VendorLibraryCheckTests {
    @Test func thorlabsAptDeviceDrivesTheSimulator() async throws {
        let root = APTTestbed.folder.deletingLastPathComponent().deletingLastPathComponent()
        let python = root.appendingPathComponent(".venv-tools/bin/python3").path
        let script = APTTestbed.folder.appendingPathComponent("vendor-check/kdc101_check.py").path
        try #require(
            FileManager.default.isExecutableFile(atPath: python),
            "\(python) is missing: run scripts/setup.sh to install thorlabs-apt-device into .venv-tools")

        var model = KDC101Device()
        model.maxVelocity = 10
        model.acceleration = 50
        model.homeVelocity = 10
        let device = try SimulatedSerialDevice(model: model)
        device.start()
        defer { device.stop() }

        let result = try await ChildProcess.run(python, arguments: [script, device.path], timeout: .seconds(45))
        #expect(result.status == 0, "the vendor check failed:\n\(result.output)")
        #expect(result.output.contains("vendor check passed"), "\(result.output)")
        let received = device.withModel { Set($0.received) }
        // What the library sent: channel enable, parameter requests, home, moves, stop, polls.
        for id: UInt16 in [0x0210, 0x0414, 0x043B, 0x0417, 0x0441, 0x0443, 0x0453, 0x0448, 0x0465, 0x0490] {
            #expect(received.contains(id), "the library's message 0x\(String(id, radix: 16)) never reached the simulator")
        }
        #expect(device.withModel { $0.homed && $0.motion == nil })
    }
}

/// A child process run to its end with a time limit; stdout and stderr together.
enum ChildProcess {
    struct Result {
        var status: Int32
        var output: String
    }

    /// Runs `executable`; past `timeout` it is terminated and `timeout` is thrown.
    static func run(_ executable: String, arguments: [String], timeout: Duration) async throws -> Result {
        let outputURL = FileManager.default.temporaryDirectory.appendingPathComponent("labvisor-vendor-check-\(UUID()).txt")
        _ = FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: outputURL) }
        let output = try FileHandle(forWritingTo: outputURL)
        defer { try? output.close() }

        let child = Process()
        child.executableURL = URL(fileURLWithPath: executable)
        child.arguments = arguments
        child.standardOutput = output
        child.standardError = output
        let waiter = LockedState<(done: Bool, continuation: WaitContinuation<Void, any Error>?)>((false, nil))
        child.terminationHandler = { _ in
            let continuation = waiter.withLock { state in
                state.done = true
                defer { state.continuation = nil }
                return state.continuation
            }
            continuation?.resume()
        }
        try child.run()
        do {
            try await suspend(
                until: .now + timeout,
                register: { continuation in
                    let finished = waiter.withLock { state in
                        if !state.done { state.continuation = continuation }
                        return state.done
                    }
                    if finished { continuation.resume() }
                },
                expire: { end in
                    let continuation = waiter.withLock { state in
                        defer { state.continuation = nil }
                        return state.continuation
                    }
                    continuation?.resume(throwing: LabvisorError(
                        end == .deadline ? .timeout : .unavailable,
                        "\(executable) did not finish within \(timeout.seconds) s"))
                })
        } catch {
            child.terminate()
            child.waitUntilExit()
            throw error
        }
        child.waitUntilExit()
        return Result(status: child.terminationStatus, output: (try? String(contentsOf: outputURL, encoding: .utf8)) ?? "")
    }
}
