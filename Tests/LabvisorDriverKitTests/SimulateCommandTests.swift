import Foundation
import LabvisorDriverKit
import LabvisorHardware
import Testing

/// `labvisor simulate`, run as the real executable: a serial program talks to the
/// simulated instrument through the printed path and the link, and SIGINT ends it cleanly.
@Suite("SimulateCommandTests", .timeLimit(.minutes(1)))
struct SimulateCommandTests {
    /// The `labvisor` executable built beside this test bundle.
    static func executable() throws -> URL {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var folder = bundle.deletingLastPathComponent()
        // swift test runs `<products>/labvisorPackageTests.xctest`; go up to the products folder.
        while !FileManager.default.isExecutableFile(atPath: folder.appendingPathComponent("labvisor").path) {
            guard folder.path != "/" else {
                throw LabvisorError(.notFound, "no labvisor executable near \(bundle.path): build it with `swift build --build-tests`")
            }
            folder.deleteLastPathComponent()
        }
        return folder.appendingPathComponent("labvisor")
    }

    @Test func servesTheSimulatorUntilInterrupted() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("simulate-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let link = folder.appendingPathComponent("heater").path

        let process = Process()
        process.executableURL = try Self.executable()
        process.arguments = ["simulate", "example-heater", "--link", link]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        // The first line names the PTY and the link.
        let line = try await Self.firstLine(of: output.fileHandleForReading, from: process, within: .seconds(10))
        #expect(line.hasPrefix("example-heater simulator on /dev/pts/"))
        #expect(line.hasSuffix("(linked at \(link))"))

        let port = try SerialPort.open(link, settings: SerialSettings(baudRate: 115200))
        let channel = LineChannel(port: port, lineEnding: "\r\n")
        #expect(try await channel.query("*IDN?") == "ACME,TC-1,TC1-0042,1.2.0")
        #expect(try await channel.query("SETP 150.5") == "ERR 2 out of range")
        port.close()

        kill(process.processIdentifier, SIGINT)
        for _ in 0..<500 where process.isRunning { try await Task.sleep(for: .milliseconds(10)) }
        #expect(!process.isRunning)
        #expect(process.terminationStatus == 0)
        #expect(!FileManager.default.fileExists(atPath: link), "the link is removed on exit")
    }

    @Test func unknownDriverIsAClearError() async throws {
        let process = Process()
        process.executableURL = try Self.executable()
        process.arguments = ["simulate", "warp-drive"]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        for _ in 0..<1000 where process.isRunning { try await Task.sleep(for: .milliseconds(10)) }
        #expect(!process.isRunning)
        #expect(process.terminationStatus != 0)
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(message.contains("warp-drive"))
        #expect(message.contains("example-heater"), "the error lists the simulators there are: \(message)")
    }

    /// Reads until the first newline; past `limit` the process is terminated, which closes
    /// the pipe and ends the read.
    static func firstLine(of handle: FileHandle, from process: Process, within limit: Duration) async throws -> String {
        let reader = Task {
            try await DedicatedThread.run { () -> String in
                var bytes: [UInt8] = []
                while true {
                    let chunk = handle.availableData
                    if chunk.isEmpty { break }
                    bytes.append(contentsOf: chunk)
                    if bytes.contains(0x0A) { break }
                }
                return String(decoding: bytes.prefix { $0 != 0x0A }, as: UTF8.self)
            }
        }
        let timer = Task {
            try await Task.sleep(for: limit)
            process.terminate()
        }
        defer { timer.cancel() }
        let line = try await reader.value
        guard !line.isEmpty else { throw LabvisorError(.timeout, "labvisor simulate printed nothing within \(limit)") }
        return line
    }
}
