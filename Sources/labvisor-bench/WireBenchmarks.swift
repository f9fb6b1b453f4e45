import Foundation
import LabvisorClient
import LabvisorProtocol
import LabvisorServer
import Logging

/// The benchmarks of the daemon and the wire (issue "daemon and wire", Measure).
let wireBenchmarks: [Benchmark] = [
    Benchmark(
        name: "wire.echo",
        summary: "loopback echo through the real labvisord over the unix socket: 1 and 8 Swift clients, server CPU, against Pyro5",
        run: wireEcho),
    Benchmark(
        name: "wire.json",
        summary: "one invoke request decoded and its response encoded: Foundation's JSONDecoder/JSONEncoder against WireJSON",
        run: wireJSON),
    Benchmark(
        name: "wire.frames",
        summary: "2048x2048 16-bit frames from the loopback stream through the real labvisord to one Swift client over the unix socket",
        run: wireFrames),
    Benchmark(
        name: "wire.dispatch",
        summary: "one echo request through the daemon's dispatcher in process (parse, supervisor, call queue, driver, encode), no socket",
        run: wireDispatch),
    Benchmark(
        name: "wire.lease",
        summary: "lease acquire + release of the loopback instrument over the unix socket, one Swift client",
        run: wireLease),
    Benchmark(
        name: "wire.events",
        summary: "event fan-out: bursts of the loopback's propertyChanged events to 10 Swift clients watching, events/s received in total",
        run: wireEvents),
]

/// How long each phase runs.
private let phase = Duration.seconds(3)

/// A `labvisord --loopback` process (the release build beside this benchmark), with extra
/// `arguments` (`--state-dir PATH`) and `environment`; its log in `folder`.
struct DaemonUnderTest {
    let process: Process
    let socket: String
    let folder: URL
    /// When the process was started.
    let started: ContinuousClock.Instant

    /// Starts it and, when `waitForSocket`, waits (at most 10 s) until its socket answers.
    init(arguments: [String] = [], environment: [String: String] = [:], waitForSocket: Bool = true) async throws {
        let products = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("wire-bench-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        socket = folder.appendingPathComponent("labvisord.sock").path
        process = Process()
        process.executableURL = products.appendingPathComponent("labvisord")
        process.arguments = ["--loopback", "--socket", socket] + arguments
        let log = folder.appendingPathComponent("labvisord.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: log)
        var merged = ProcessInfo.processInfo.environment
        merged["LABVISOR_LOG_LEVEL"] = "warning"
        merged.merge(environment) { $1 }
        process.environment = merged
        started = .now
        try process.run()
        guard waitForSocket else { return }
        for _ in 0..<500 {
            if let client = try? await Labvisor.connect(to: .unix(socket)) {
                await client.close()
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw LabvisorError(.unavailable, "labvisord --loopback did not start (build it: swift build -c release --product labvisord): \(logText)")
    }

    /// What it wrote to standard error.
    var logText: String { (try? String(contentsOf: folder.appendingPathComponent("labvisord.log"), encoding: .utf8)) ?? "" }

    /// Its resident set size (`VmRSS`), in bytes; 0 when unreadable.
    var residentBytes: Int {
        guard let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
        else { return 0 }
        return (Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0) * 1024
    }

    /// User plus system CPU seconds the daemon has used.
    var cpuSeconds: Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return (Double(fields[11]) ?? 0) / 100 + (Double(fields[12]) ?? 0) / 100
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: folder)
    }
}

private func wireEcho() async throws -> BenchmarkResult {
    let daemon = try await DaemonUnderTest()
    defer { daemon.stop() }
    let endpoint = Endpoint.unix(daemon.socket)

    // One client, calls one after another.
    let client = try await Labvisor.connect(to: endpoint)
    for _ in 0..<2000 { try await client.invoke("loopback", "echo", ["value": 1]) }
    var samples = LatencySamples(capacity: 200_000)
    let cpuBefore = daemon.cpuSeconds
    var start = ContinuousClock.now
    let end = start + phase
    var calls = 0
    while ContinuousClock.now < end {
        let callStart = ContinuousClock.now
        try await client.invoke("loopback", "echo", ["value": 1])
        samples.add(ContinuousClock.now - callStart)
        calls += 1
    }
    let sequentialSeconds = (ContinuousClock.now - start).seconds
    let cpuPerCall = (daemon.cpuSeconds - cpuBefore) / Double(calls) * 1e6
    let sequentialRate = Double(calls) / sequentialSeconds
    await client.close()

    // Eight clients, each on its own connection, at once.
    let clients = try await withThrowingTaskGroup(of: Labvisor.self) { group in
        for _ in 0..<8 { group.addTask { try await Labvisor.connect(to: endpoint) } }
        return try await group.reduce(into: []) { $0.append($1) }
    }
    start = ContinuousClock.now
    let eightCPUBefore = daemon.cpuSeconds
    let stop = start + phase
    let total = try await withThrowingTaskGroup(of: Int.self) { group in
        for each in clients {
            group.addTask {
                var count = 0
                while ContinuousClock.now < stop {
                    try await each.invoke("loopback", "echo", ["value": 1])
                    count += 1
                }
                return count
            }
        }
        return try await group.reduce(0, +)
    }
    let concurrentRate = Double(total) / (ContinuousClock.now - start).seconds
    let eightCPUPerCall = (daemon.cpuSeconds - eightCPUBefore) / Double(max(total, 1)) * 1e6
    for each in clients { await each.close() }

    var extra: [String: JSONValue] = [
        "eight_clients_per_s": .double(concurrentRate.rounded()),
        "server_cpu_us_per_call": .double((cpuPerCall * 10).rounded() / 10),
        // With eight clients the daemon sleeps and wakes less often per call.
        "server_cpu_us_per_call_eight": .double((eightCPUPerCall * 10).rounded() / 10),
    ]
    let pyro = pyro5Baseline()
    for (key, value) in pyro { extra[key] = value }
    let pyroSequential = pyro["pyro5_sequential_per_s"]?.number
    let pyroEight = pyro["pyro5_8_clients_per_s"]?.number
    if let pyroSequential { extra["ratio_sequential"] = .double((sequentialRate / pyroSequential * 100).rounded() / 100) }
    if let pyroEight { extra["ratio_eight"] = .double((concurrentRate / pyroEight * 100).rounded() / 100) }
    let p50 = samples.percentile(0.5)
    let p99 = samples.percentile(0.99)
    let met = cpuPerCall <= 20 && p99 <= 3 * p50 && (pyroSequential.map { sequentialRate >= 4 * $0 } ?? false)
        && (pyroEight.map { concurrentRate >= 6 * $0 } ?? false)
    return BenchmarkResult(
        bench: "wire.echo", opsPerSecond: sequentialRate, p50Microseconds: p50, p99Microseconds: p99,
        target: ">= 4x Pyro5 sequential, >= 6x with 8 clients, server CPU <= 20 us/call, p99 <= 3x p50", met: met,
        extra: extra)
}

/// Runs scripts/bench/pyro5_echo.py with the tools venv; empty when it cannot run.
private func pyro5Baseline() -> [String: JSONValue] {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let python = root.appendingPathComponent(".venv-tools/bin/python3")
    guard FileManager.default.isExecutableFile(atPath: python.path) else {
        return ["pyro5_error": "no .venv-tools: run scripts/setup.sh"]
    }
    let process = Process()
    process.executableURL = python
    process.arguments = [root.appendingPathComponent("scripts/bench/pyro5_echo.py").path, String(phase.seconds)]
    let output = Pipe()
    process.standardOutput = output
    do {
        try process.run()
    } catch {
        return ["pyro5_error": .string("\(error)")]
    }
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard case .object(let object)? = try? JSONDecoder().decode(JSONValue.self, from: data) else {
        return ["pyro5_error": .string("unreadable output: \(String(decoding: data, as: UTF8.self))")]
    }
    return object
}

/// The codec choice of issue "daemon and wire": the server's work per call on one typical
/// invoke (envelope + params decoded, a response encoded), by Foundation (as the first
/// dispatcher did: the envelope head, then the whole request) and by `WireJSON` (one parse).
@Sendable private func wireJSON() async throws -> BenchmarkResult {
    let request = Array(
        #"{"jsonrpc":"2.0","id":41,"method":"instrument.invoke","params":{"instrument":"stage-x","method":"moveTo","arguments":{"mm":12.5,"wait":true},"timeout":30,"leaseToken":"6f1c2a"}}"#
            .utf8)
    let result = InvokeMethod.Result(value: ["position": 12.5, "busy": false])
    let response = RPCResponse(id: .number(41), result: result)
    let rounds = 100_000

    func measure(_ body: () throws -> Int) rethrows -> (perCall: Double, samples: LatencySamples) {
        var samples = LatencySamples(capacity: rounds)
        var sink = 0
        for _ in 0..<2_000 { sink &+= try body() }
        for _ in 0..<rounds {
            let t0 = ContinuousClock.now
            sink &+= try body()
            samples.add(ContinuousClock.now - t0)
        }
        precondition(sink != 0)
        return (samples.percentile(0.5), samples)
    }

    let foundation = try measure {
        let data = Data(request)
        let head = try JSONDecoder().decode(RPCRequestHead.self, from: data)
        let params = try JSONDecoder().decode(RPCRequest<InvokeMethod.Params>.self, from: data).params
        let bytes = try JSONEncoder().encode(response)
        return params.arguments.count + bytes.count + (head.method?.count ?? 0)
    }
    let ours = try measure {
        guard case .object(let members) = try JSONParser.parse(request), let method = members["method"]?.string else { return 0 }
        let params = try JSONValueDecoder().decode(InvokeMethod.Params.self, from: members["params"] ?? .null)
        let bytes = try WireJSON.encodeResponse(id: .number(41), result: result)
        return params.arguments.count + bytes.count + method.count
    }
    let speedup = foundation.perCall / ours.perCall
    return BenchmarkResult(
        bench: "wire.json", opsPerSecond: 1e6 / ours.perCall, p50Microseconds: ours.perCall,
        p99Microseconds: ours.samples.percentile(0.99), target: "WireJSON faster than Foundation", met: speedup > 1,
        extra: [
            "foundation_p50_us": .double((foundation.perCall * 100).rounded() / 100),
            "foundation_p99_us": .double((foundation.samples.percentile(0.99) * 100).rounded() / 100),
            "speedup": .double((speedup * 100).rounded() / 100),
        ])
}

/// Frames from `labvisord --loopback`'s synthetic stream (2048x2048 Y16, 8 MiB each, offered
/// at `offered` frames/s) to one Swift client reading as fast as it can: delivered MB/s and
/// frames/s, frames dropped (the producer offers more than the target so the wire is the
/// limit), and the daemon's CPU per frame.
private func wireFrames() async throws -> BenchmarkResult {
    let daemon = try await DaemonUnderTest()
    defer { daemon.stop() }
    let client = try await Labvisor.connect(to: .unix(daemon.socket))
    let (width, height) = (2048, 2048)
    let offered = Double(ProcessInfo.processInfo.environment["LABVISOR_BENCH_FPS"] ?? "") ?? 200
    let frames = try await client.frames(instrument: "loopback", queue: 4)
    try await client.invoke(
        "loopback", "startFrames", ["width": .int(width), "height": .int(height), "format": "Y16", "fps": .double(offered)],
        timeout: .seconds(10))
    // Warm up, and check one frame byte for byte (outside the timing).
    let pattern = try SyntheticFramePattern(width: width, height: height, format: "Y16")
    for _ in 0..<20 { _ = try await frames.next(timeout: .seconds(10)) }
    guard let checked = try await frames.next(timeout: .seconds(10)), pattern.matches(checked.bytes, sequence: checked.sequence) else {
        throw LabvisorError(.driverFault, "a frame differs from the test pattern")
    }
    var samples = LatencySamples(capacity: 10_000)
    let cpuBefore = daemon.cpuSeconds
    let clientCPUBefore = processCPUSeconds()
    let start = ContinuousClock.now
    let end = start + phase
    var count = 0
    var bytes = 0
    var dropped = 0
    var previous = start
    while ContinuousClock.now < end {
        guard let frame = try await frames.next(timeout: .seconds(10)) else { break }
        let now = ContinuousClock.now
        samples.add(now - previous)
        previous = now
        count += 1
        bytes += frame.bytes.count
        dropped += frame.dropped
    }
    let seconds = (ContinuousClock.now - start).seconds
    let cpu = daemon.cpuSeconds - cpuBefore
    let clientCPU = processCPUSeconds() - clientCPUBefore
    try await client.invoke("loopback", "stopFrames", timeout: .seconds(10))
    try await frames.close()
    await client.close()
    let framesPerSecond = Double(count) / seconds
    let megabytesPerSecond = Double(bytes) / seconds / 1e6
    return BenchmarkResult(
        bench: "wire.frames", opsPerSecond: framesPerSecond, p50Microseconds: samples.percentile(0.5),
        p99Microseconds: samples.percentile(0.99), target: ">= 1 GB/s (~120 frames/s of 8 MiB)", met: megabytesPerSecond >= 1000,
        extra: [
            "MB_per_s": .double(megabytesPerSecond.rounded()), "frames_offered_per_s": .double(offered),
            "frames_dropped": .int(dropped), "daemon_cpu_ms_per_frame": .double((cpu / Double(max(count, 1)) * 1e5).rounded() / 100),
            "client_cpu_ms_per_frame": .double((clientCPU / Double(max(count, 1)) * 1e5).rounded() / 100),
            "frame_bytes": .int(width * height * 2), "p50_p99": "time between frames at the client",
        ])
}

/// A lease on the loopback instrument taken and given back, one pair after another, by one
/// Swift client over the unix socket (issue "daemon and wire": p50 <= 100 us).
private func wireLease() async throws -> BenchmarkResult {
    let daemon = try await DaemonUnderTest()
    defer { daemon.stop() }
    let client = try await Labvisor.connect(to: .unix(daemon.socket))
    for _ in 0..<1000 { try await client.release(try await client.acquire(["loopback"])) }
    var samples = LatencySamples(capacity: 100_000)
    let start = ContinuousClock.now
    let end = start + phase
    var pairs = 0
    while ContinuousClock.now < end {
        let t0 = ContinuousClock.now
        try await client.release(try await client.acquire(["loopback"]))
        samples.add(ContinuousClock.now - t0)
        pairs += 1
    }
    let seconds = (ContinuousClock.now - start).seconds
    await client.close()
    let p50 = samples.percentile(0.5)
    return BenchmarkResult(
        bench: "wire.lease", opsPerSecond: Double(pairs) / seconds, p50Microseconds: p50, p99Microseconds: samples.percentile(0.99),
        target: "acquire + release p50 <= 100 us", met: p50 <= 100)
}

/// The server's own work per call, without NIO and the kernel: what `wire.echo`'s server
/// CPU per call would be on an infinitely fast socket.
@Sendable private func wireDispatch() async throws -> BenchmarkResult {
    let supervisor = Supervisor()
    supervisor.addLoopback(logger: Logger(label: "bench"))
    let session = supervisor.connect(ClientRef(id: 1, name: "bench"))
    defer { supervisor.disconnect(session) }
    let dispatcher = RPCDispatcher(supervisor: supervisor, clientCount: { 1 }, maxClients: 8, demo: false)
    let request = Array(#"{"jsonrpc":"2.0","id":7,"method":"instrument.invoke","params":{"instrument":"loopback","method":"echo","arguments":{"value":1}}}"#.utf8)
    func call() async -> Int {
        switch dispatcher.handle(request, from: session) {
        case .now(let response): return response?.count ?? 0
        case .later(let work): return await work()?.count ?? 0
        case .laterThen(let work): return await work().response?.count ?? 0
        }
    }
    var sink = 0
    for _ in 0..<2_000 { sink &+= await call() }
    let rounds = 100_000
    var samples = LatencySamples(capacity: rounds)
    let start = ContinuousClock.now
    for _ in 0..<rounds {
        let t0 = ContinuousClock.now
        sink &+= await call()
        samples.add(ContinuousClock.now - t0)
    }
    let seconds = (ContinuousClock.now - start).seconds
    precondition(sink > 0)
    let p50 = samples.percentile(0.5)
    return BenchmarkResult(
        bench: "wire.dispatch", opsPerSecond: Double(rounds) / seconds, p50Microseconds: p50,
        p99Microseconds: samples.percentile(0.99), target: "part of wire.echo's server CPU <= 20 us/call", met: p50 <= 10)
}
