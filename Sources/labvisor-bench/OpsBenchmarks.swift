import Foundation
import LabvisorClient
import LabvisorHardware

/// The operations benchmarks (issue "operations", Measure): start to ready, stop with open
/// sessions, and memory with many instruments and clients, each against the release
/// `labvisord` with simulated instruments.
let opsBenchmarks: [Benchmark] = [
    Benchmark(
        name: "ops.ready",
        summary: "labvisord start to READY=1 on $NOTIFY_SOCKET with 100 simulated instruments (example-heater, each on a PTY)",
        run: opsReady),
    Benchmark(
        name: "ops.stop",
        summary: "SIGTERM to exit with 100 open sessions (100 simulated heaters, each opened by a client call), every driver to its safe state",
        run: opsStop),
    Benchmark(
        name: "ops.rss",
        summary: "labvisord's VmRSS with 1,000 simulated instruments (example-heater, each on a PTY) and 200 connected clients",
        run: opsResidentSize),
]

/// The repository root (for `drivers/`).
private let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A configuration file of `count` simulated heaters (`heater-0` ...), written to a
/// temporary folder; returns its path and the folder to remove.
private func simulatedHeaters(_ count: Int, maxClients: Int = 64) throws -> (path: String, folder: URL) {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ops-bench-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    var text = """
        [daemon]
        drivers = ["\(repositoryRoot.appendingPathComponent("drivers").path)"]
        linger = 600
        max_clients = \(maxClients)

        """
    for index in 0..<count {
        text += "[[instrument]]\nname = \"heater-\(index)\"\ndriver = \"example-heater\"\nsimulate = \"example-heater\"\n"
    }
    let path = folder.appendingPathComponent("labvisord.toml").path
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return (path, folder)
}

/// systemd's side of `$NOTIFY_SOCKET`, enough to see `READY=1`: an abstract unix datagram socket.
private final class ReadinessListener: Sendable {
    let name: String
    private let descriptor: Int32

    init() throws {
        let unique = "labvisor-bench-notify-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        name = "@" + unique
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw LabvisorError(.unavailable, "socket(): \(String(cString: strerror(errno)))") }
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = [UInt8(0)] + Array(unique.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) } }
        guard bound == 0 else {
            close(descriptor)
            throw LabvisorError(.unavailable, "bind(\(name)): \(String(cString: strerror(errno)))")
        }
    }

    deinit { close(descriptor) }

    /// Waits (at most `limit`) for a datagram with `READY=1`; returns when it arrived.
    func waitForReady(within limit: Duration) async throws -> ContinuousClock.Instant {
        try await DedicatedThread.run { [self] () throws -> ContinuousClock.Instant in
            let deadline = ContinuousClock.now + limit
            var buffer = [UInt8](repeating: 0, count: 4096)
            while ContinuousClock.now < deadline {
                let count = recv(descriptor, &buffer, buffer.count, 0)
                guard count > 0 else { continue }
                if String(decoding: buffer[..<count], as: UTF8.self).split(separator: "\n").contains("READY=1") { return .now }
            }
            throw LabvisorError(.timeout, "no READY=1 within \(limit)")
        }
    }
}

/// Waits (at most 60 s) for `daemon` to exit after the signal; returns when it had.
private func waitForExit(_ daemon: DaemonUnderTest) async throws -> ContinuousClock.Instant {
    let deadline = ContinuousClock.now + .seconds(60)
    while daemon.process.isRunning {
        guard ContinuousClock.now < deadline else {
            kill(daemon.process.processIdentifier, SIGKILL)
            throw LabvisorError(.timeout, "labvisord did not exit within 60 s of SIGTERM")
        }
        try await Task.sleep(for: .milliseconds(1))
    }
    return .now
}

private func opsReady() async throws -> BenchmarkResult {
    let (config, folder) = try simulatedHeaters(100)
    defer { try? FileManager.default.removeItem(at: folder) }
    var samples = LatencySamples(capacity: 8)
    for _ in 0..<7 {
        let listener = try ReadinessListener()
        let daemon = try await DaemonUnderTest(
            arguments: ["--demo", "--config", config], environment: ["NOTIFY_SOCKET": listener.name], waitForSocket: false)
        defer { daemon.stop() }
        let ready = try await listener.waitForReady(within: .seconds(30))
        samples.add(ready - daemon.started)
        let client = try await Labvisor.connect(to: .unix(daemon.socket))
        let instruments = try await client.status().instruments
        await client.close()
        guard instruments == 101 else { throw LabvisorError(.unavailable, "expected 101 instruments, the daemon has \(instruments)") }
    }
    let p50 = samples.percentile(0.5)
    return BenchmarkResult(
        bench: "ops.ready", opsPerSecond: 1e6 / p50, p50Microseconds: p50, p99Microseconds: samples.percentile(1),
        target: "start to READY=1 <= 500 ms with 100 simulated instruments", met: p50 <= 500_000,
        extra: ["runs": 7, "instruments": 100, "p99_is": "the slowest run"])
}

private func opsStop() async throws -> BenchmarkResult {
    let (config, folder) = try simulatedHeaters(100)
    defer { try? FileManager.default.removeItem(at: folder) }
    var samples = LatencySamples(capacity: 8)
    for _ in 0..<5 {
        // At info level: its last line says every driver was shut down to its safe state.
        let daemon = try await DaemonUnderTest(arguments: ["--demo", "--config", config], environment: ["LABVISOR_LOG_LEVEL": "info"])
        defer { daemon.stop() }
        let client = try await Labvisor.connect(to: .unix(daemon.socket))
        // Open every driver: the client's first call to each starts its session.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<10 {
                group.addTask {
                    for index in stride(from: lane, to: 100, by: 10) {
                        _ = try await client.get("heater-\(index)", "heating", timeout: .seconds(30))
                    }
                }
            }
            try await group.waitForAll()
        }
        let open = try await client.list().filter { $0.name.hasPrefix("heater-") && $0.state == "ready" }.count
        guard open == 100 else { throw LabvisorError(.unavailable, "expected 100 open heaters, \(open) are ready") }
        let signalled = ContinuousClock.now
        kill(daemon.process.processIdentifier, SIGTERM)
        let exited = try await waitForExit(daemon)
        await client.close()
        guard daemon.process.terminationStatus == 0, daemon.logText.contains("every driver was shut down to its safe state") else {
            throw LabvisorError(.unavailable, "labvisord exited \(daemon.process.terminationStatus): \(daemon.logText.suffix(2000))")
        }
        samples.add(exited - signalled)
    }
    let p50 = samples.percentile(0.5)
    return BenchmarkResult(
        bench: "ops.stop", opsPerSecond: 1e6 / p50, p50Microseconds: p50, p99Microseconds: samples.percentile(1),
        target: "SIGTERM to exit <= 2 s with 100 open sessions", met: p50 <= 2_000_000,
        extra: ["runs": 5, "open_sessions": 100, "p99_is": "the slowest run"])
}

private func opsResidentSize() async throws -> BenchmarkResult {
    let (config, folder) = try simulatedHeaters(1000, maxClients: 1000)
    defer { try? FileManager.default.removeItem(at: folder) }
    let daemon = try await DaemonUnderTest(arguments: ["--demo", "--config", config])
    defer { daemon.stop() }
    let idle = daemon.residentBytes
    var clients: [Labvisor] = []
    for _ in 0..<200 {
        let client = try await Labvisor.connect(to: .unix(daemon.socket))
        _ = try await client.status()
        clients.append(client)
    }
    let status = try await clients[0].status()
    guard status.clients == 200, status.instruments == 1001 else {
        throw LabvisorError(.unavailable, "expected 200 clients and 1001 instruments: \(status)")
    }
    try await Task.sleep(for: .seconds(1))
    let loaded = daemon.residentBytes
    for client in clients { await client.close() }
    let megabytes = Double(loaded) / 1_048_576
    return BenchmarkResult(
        bench: "ops.rss", opsPerSecond: 0, p50Microseconds: 0, p99Microseconds: 0,
        target: "VmRSS <= 300 MB with 1,000 simulated instruments and 200 clients", met: megabytes <= 300,
        extra: [
            "rss_mb": .double((megabytes * 10).rounded() / 10),
            "rss_mb_before_clients": .double((Double(idle) / 1_048_576 * 10).rounded() / 10),
            "instruments": 1000, "clients": 200,
        ])
}
