import Foundation
import LabvisorClient
import LabvisorDriverTesting
import LabvisorHardware

/// A real `labvisord --demo` process on a private socket, for end-to-end tests.
final class DaemonProcess: Sendable {
    let socketPath: String
    let folder: URL
    private let process: Process
    let log: URL

    /// The products folder holding `labvisord` and `labvisor` (beside the test bundle).
    static func products() throws -> URL { try BuiltExecutables.folder() }

    /// The repository root (for `drivers/`).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Starts the daemon (with `environment` added to the test's, the loopback instrument when
    /// `loopback`, its state store in `stateDirectory` (`--state-dir`; the caller owns and
    /// removes the folder), and `arguments` after the demo's) and, when `waitForSocket`, waits
    /// until its socket answers. With `configuration`, the daemon reads that TOML text (written
    /// to its folder) instead of `config/demo.toml`; with `configurationFile`, that file (which
    /// the test may rewrite, then send SIGHUP).
    init(
        environment: [String: String] = [:], arguments: [String] = [], loopback: Bool = false, stateDirectory: String? = nil,
        configuration: String? = nil, configurationFile: String? = nil, waitForSocket: Bool = true
    ) async throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("labvisord-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        socketPath = folder.appendingPathComponent("labvisord.sock").path
        log = folder.appendingPathComponent("labvisord.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process = Process()
        process.executableURL = try Self.products().appendingPathComponent("labvisord")
        var file = configurationFile ?? Self.root.appendingPathComponent("config/demo.toml").path
        if let configuration {
            file = folder.appendingPathComponent("labvisord.toml").path
            try configuration.write(toFile: file, atomically: true, encoding: .utf8)
        }
        process.arguments = ["--demo", "--config", file, "--socket", socketPath]
            + (loopback ? ["--loopback"] : []) + (stateDirectory.map { ["--state-dir", $0] } ?? []) + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: log)
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        try process.run()
        guard waitForSocket else { return }
        for _ in 0..<500 {
            if let client = try? await Labvisor.connect(to: .unix(socketPath)) {
                await client.close()
                return
            }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        process.terminate()
        throw LabvisorError(.unavailable, "labvisord did not start listening within 10 s: \(logText)")
    }

    var endpoint: Endpoint { .unix(socketPath) }

    func connect() async throws -> Labvisor {
        try await Labvisor.connect(to: endpoint)
    }

    var logText: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    var pid: Int32 { process.processIdentifier }

    /// Starts a lease holder in another process (python3 speaking the wire with its standard
    /// library) that acquires `instrument` and then sleeps; returns it and its reply line.
    /// The caller kills it.
    func startPythonHolder(of instrument: String) throws -> (process: Process, reply: String) {
        let script = """
            import socket, struct, json, sys, time
            s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
            body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "leases.acquire", "params": {"instruments": [sys.argv[2]]}}).encode()
            s.sendall(struct.pack(">I", len(body)) + body)
            n = struct.unpack(">I", s.recv(4))[0]; reply = json.loads(s.recv(n))
            print(json.dumps(reply), flush=True)
            time.sleep(60)
            """
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        holder.arguments = ["python3", "-c", script, socketPath, instrument]
        let output = Pipe()
        holder.standardOutput = output
        try holder.run()
        return (holder, String(decoding: output.fileHandleForReading.availableData, as: UTF8.self))
    }

    /// Sends `signal` and waits (bounded) for the exit; returns the exit status.
    func stop(signal: Int32 = SIGTERM, within limit: Duration = .seconds(15)) async throws -> Int32 {
        kill(process.processIdentifier, signal)
        let deadline = ContinuousClock.now + limit
        while process.isRunning {
            guard ContinuousClock.now < deadline else {
                kill(process.processIdentifier, SIGKILL)
                throw LabvisorError(.timeout, "labvisord did not exit within \(limit) of signal \(signal)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        return process.terminationStatus
    }

    /// Runs `labvisor ARGS` with `LABVISOR_URL` pointing at this daemon (and `LABVISOR_CLI` at
    /// the CLI, for scripts); returns status, stdout, stderr. At most 30 s.
    func labvisor(_ arguments: [String]) async throws -> (status: Int32, output: String, errors: String) {
        let process = Process()
        process.executableURL = try DaemonProcess.products().appendingPathComponent("labvisor")
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["LABVISOR_URL"] = endpoint.description
        environment["LABVISOR_CLI"] = process.executableURL!.path
        environment.removeValue(forKey: "LABVISOR_LEASE")
        process.environment = environment
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // Read on threads of their own: a blocking read in a task starves the test process.
        let outputData = Task { try await DedicatedThread.run { output.fileHandleForReading.readDataToEndOfFile() } }
        let errorData = Task { try await DedicatedThread.run { errors.fileHandleForReading.readDataToEndOfFile() } }
        let deadline = ContinuousClock.now + .seconds(30)
        while process.isRunning {
            guard ContinuousClock.now < deadline else {
                process.terminate()
                throw LabvisorError(.timeout, "labvisor \(arguments.joined(separator: " ")) ran over 30 s")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        return (
            process.terminationStatus, String(decoding: try await outputData.value, as: UTF8.self),
            String(decoding: try await errorData.value, as: UTF8.self)
        )
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: folder)
    }
}
