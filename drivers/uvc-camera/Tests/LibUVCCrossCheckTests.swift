import Foundation
import LabvisorSimulation
import Testing
import UVCCameraSimulator

/// libuvc, an independent UVC host implementation over libusb, streams from the simulated
/// camera: `vendor-check/libuvc_check.c` is built with `cc` and run as a child of this test
/// process, which holds the umockdev testbed (the child inherits the sandbox and talks to the
/// camera's ioctl handler here). It negotiates, streams and checks every frame's size and
/// pattern on its own.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct LibUVCCrossCheckTests {
    static let suite = "LibUVCCrossCheckTests"

    @Test func libuvcStreamsEveryFormatOfTheSimulator() async throws {
        guard try await UmockdevReexec.runHere(suite: Self.suite) else { return }
        let rig = try CameraRig()
        let program = try Self.build()
        for (format, width, height, fps, frames) in [
            ("gray8", 640, 480, 30, 6), ("yuyv", 640, 480, 30, 3), ("gray16", 2048, 2048, 10, 2), ("gray8", 2048, 2048, 5, 2),
        ] {
            let (status, output) = try await Self.run(program, [format, "\(width)", "\(height)", "\(fps)", "\(frames)"])
            #expect(status == 0 && output.contains("OK \(frames) frames"), "libuvc \(format) \(width)x\(height):\n\(output)")
        }
        #expect(rig.device.kernelDrivers.isEmpty == false, "libuvc reattached uvcvideo when it closed")
        await rig.usb.shutdown()
    }

    /// Compiles the checker into a temporary directory.
    static func build() throws -> String {
        let source = CameraRig.driverFolder.appendingPathComponent("vendor-check/libuvc_check.c").path
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("libuvc_check-\(UUID())").path
        let compile = Process()
        compile.executableURL = URL(fileURLWithPath: "/bin/sh")
        compile.arguments = [
            "-c", "cc -O2 -o '\(output)' '\(source)' $(pkg-config --cflags --libs libuvc) -lpthread 2>&1",
        ]
        let pipe = Pipe()
        compile.standardOutput = pipe
        try compile.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        compile.waitUntilExit()
        guard compile.terminationStatus == 0 else {
            throw LabvisorError(
                .unavailable, "cannot build the libuvc checker (install libuvc-dev: scripts/setup.sh):\n\(text)")
        }
        return output
    }

    /// Runs `program` (inheriting the umockdev environment), at most 60 s.
    static func run(_ program: String, _ arguments: [String]) async throws -> (Int32, String) {
        let outputURL = FileManager.default.temporaryDirectory.appendingPathComponent("libuvc-\(UUID()).txt")
        _ = FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: outputURL) }
        let output = try FileHandle(forWritingTo: outputURL)
        defer { try? output.close() }
        let child = Process()
        child.executableURL = URL(fileURLWithPath: program)
        child.arguments = arguments
        child.standardOutput = output
        child.standardError = output
        try child.run()
        let deadline = ContinuousClock.now + .seconds(60)
        while child.isRunning {
            if ContinuousClock.now > deadline {
                child.terminate()
                child.waitUntilExit()
                return (-1, "killed after 60 s")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        return (child.terminationStatus, (try? String(contentsOf: outputURL, encoding: .utf8)) ?? "")
    }
}
