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

    /// Context switches (voluntary and not) of all the daemon's threads so far: a thread that
    /// sleeps and is woken is one.
    var contextSwitches: Int {
        let tasks = "/proc/\(process.processIdentifier)/task"
        let threads = (try? FileManager.default.contentsOfDirectory(atPath: tasks)) ?? []
        return threads.reduce(0) { total, thread in
            guard let status = try? String(contentsOfFile: "\(tasks)/\(thread)/status", encoding: .utf8) else { return total }
            return total + status.split(separator: "\n").reduce(0) { sum, line in
                guard line.contains("ctxt_switches:") else { return sum }
                return sum + (Int(line.split(separator: "\t").last.map(String.init) ?? "") ?? 0)
            }
        }
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

/// One way of calling `echo` (sequential or 8 clients; the default executor or connection
/// affinity), summed over the rounds.
private struct EchoTally {
    var samples = LatencySamples(capacity: 400_000)
    var calls = 0
    var seconds = 0.0
    var serverCPU = 0.0
    var serverSwitches = 0
    var clientSwitches = 0
    var clientCPU = 0.0

    /// Runs `body` (which returns its latencies, if it keeps them, and its call count) and
    /// adds its calls, time, the daemon's CPU and both processes' context switches.
    mutating func measure(_ daemon: DaemonUnderTest, _ body: () async throws -> (LatencySamples?, Int)) async rethrows {
        let cpuBefore = daemon.cpuSeconds
        let serverBefore = daemon.contextSwitches
        let clientBefore = processContextSwitches()
        let clientCPUBefore = processCPUSeconds()
        let start = ContinuousClock.now
        let (phaseSamples, phaseCalls) = try await body()
        seconds += (ContinuousClock.now - start).seconds
        clientCPU += processCPUSeconds() - clientCPUBefore
        clientSwitches += processContextSwitches() - clientBefore
        serverSwitches += daemon.contextSwitches - serverBefore
        serverCPU += daemon.cpuSeconds - cpuBefore
        calls += phaseCalls
        if let phaseSamples { samples.append(contentsOf: phaseSamples) }
    }

    var rate: Double { Double(calls) / seconds }
    var serverCPUPerCall: Double { serverCPU / Double(max(calls, 1)) * 1e6 }
    var serverSwitchesPerCall: Double { Double(serverSwitches) / Double(max(calls, 1)) }
    var clientSwitchesPerCall: Double { Double(clientSwitches) / Double(max(calls, 1)) }
    var clientCPUPerCall: Double { clientCPU / Double(max(calls, 1)) * 1e6 }
}

/// Echo calls one after another until `end`, each timed.
private func sequentialEchoes(_ client: Labvisor, until end: ContinuousClock.Instant) async throws -> (LatencySamples?, Int) {
    var samples = LatencySamples(capacity: 100_000)
    var calls = 0
    while ContinuousClock.now < end {
        let t0 = ContinuousClock.now
        try await client.invoke("loopback", "echo", ["value": 1])
        samples.add(ContinuousClock.now - t0)
        calls += 1
    }
    return (samples, calls)
}

/// Echo calls from every client at once, each one after another, until `end`.
private func concurrentEchoes(_ clients: [Labvisor], affinity: Bool, until end: ContinuousClock.Instant) async throws -> (LatencySamples?, Int) {
    let total = try await withThrowingTaskGroup(of: Int.self) { group in
        for each in clients {
            group.addTask {
                @Sendable func loop() async throws -> Int {
                    var count = 0
                    while ContinuousClock.now < end {
                        try await each.invoke("loopback", "echo", ["value": 1])
                        count += 1
                    }
                    return count
                }
                return affinity ? try await each.withConnectionAffinity(loop) : try await loop()
            }
        }
        return try await group.reduce(0, +)
    }
    return (nil, total)
}

/// `wire.echo`: rounds of four Swift phases (sequential and 8 clients, each from tasks on the
/// global executor and with connection affinity) and a Pyro5 run, so that the host's load
/// (steal time comes and goes by the minute) falls on all of them alike.
private func wireEcho() async throws -> BenchmarkResult {
    let daemon = try await DaemonUnderTest()
    defer { daemon.stop() }
    let endpoint = Endpoint.unix(daemon.socket)
    let client = try await Labvisor.connect(to: endpoint)
    let clients = try await withThrowingTaskGroup(of: Labvisor.self) { group in
        for _ in 0..<8 { group.addTask { try await Labvisor.connect(to: endpoint) } }
        return try await group.reduce(into: []) { $0.append($1) }
    }
    for _ in 0..<2000 { try await client.invoke("loopback", "echo", ["value": 1]) }
    _ = try await concurrentEchoes(clients, affinity: false, until: .now + .milliseconds(300))

    var sequential = EchoTally()
    var sequentialAffinity = EchoTally()
    var eight = EchoTally()
    var eightAffinity = EchoTally()
    var pyroRuns: [[String: JSONValue]] = []
    for _ in 0..<echoRounds {
        try await sequential.measure(daemon) { try await sequentialEchoes(client, until: .now + echoPhase) }
        try await sequentialAffinity.measure(daemon) {
            try await client.withConnectionAffinity { try await sequentialEchoes(client, until: .now + echoPhase) }
        }
        try await eight.measure(daemon) { try await concurrentEchoes(clients, affinity: false, until: .now + echoPhase) }
        try await eightAffinity.measure(daemon) { try await concurrentEchoes(clients, affinity: true, until: .now + echoPhase) }
        pyroRuns.append(pyro5Baseline(phaseSeconds: echoPhase.seconds))
    }
    await client.close()
    for each in clients { await each.close() }

    func tenths(_ value: Double) -> JSONValue { .double((value * 10).rounded() / 10) }
    func hundredths(_ value: Double) -> JSONValue { .double((value * 100).rounded() / 100) }
    var extra: [String: JSONValue] = [
        "sequential_default_per_s": .double(sequential.rate.rounded()),
        "p50_default_us": tenths(sequential.samples.percentile(0.5)),
        "p99_default_us": tenths(sequential.samples.percentile(0.99)),
        "eight_clients_per_s": .double(eightAffinity.rate.rounded()),
        "eight_clients_default_per_s": .double(eight.rate.rounded()),
        "server_cpu_us_per_call": tenths(sequentialAffinity.serverCPUPerCall),
        "server_cpu_us_per_call_default": tenths(sequential.serverCPUPerCall),
        // With eight clients the daemon sleeps and wakes less often per call.
        "server_cpu_us_per_call_eight": tenths(eightAffinity.serverCPUPerCall),
        "client_switches_per_call": hundredths(sequentialAffinity.clientSwitchesPerCall),
        "client_switches_per_call_default": hundredths(sequential.clientSwitchesPerCall),
        "server_switches_per_call": hundredths(sequentialAffinity.serverSwitchesPerCall),
        "client_cpu_us_per_call": tenths(sequentialAffinity.clientCPUPerCall),
        "client_cpu_us_per_call_default": tenths(sequential.clientCPUPerCall),
        "rounds": .int(echoRounds),
    ]
    // Pyro5: rates averaged over the rounds (phases of equal length), latencies their median.
    let pyro = pyroRuns.filter { $0["pyro5_error"] == nil }
    if let failed = pyroRuns.first(where: { $0["pyro5_error"] != nil }) { extra["pyro5_error"] = failed["pyro5_error"] }
    func pyroMean(_ key: String) -> Double? {
        let values = pyro.compactMap { $0[key]?.number }
        return values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
    }
    func pyroMedian(_ key: String) -> Double? {
        let values = pyro.compactMap { $0[key]?.number }.sorted()
        return values.isEmpty ? nil : values[values.count / 2]
    }
    let pyroSequential = pyroMean("pyro5_sequential_per_s")
    let pyroEight = pyroMean("pyro5_8_clients_per_s")
    for key in ["pyro5_sequential_per_s", "pyro5_8_clients_per_s"] { if let value = pyroMean(key) { extra[key] = .double(value.rounded()) } }
    for key in ["pyro5_p50_us", "pyro5_p99_us", "pyro5_server_cpu_us_per_call"] { if let value = pyroMedian(key) { extra[key] = tenths(value) } }
    if let pyroSequential {
        extra["ratio_sequential"] = hundredths(sequentialAffinity.rate / pyroSequential)
        extra["ratio_sequential_default"] = hundredths(sequential.rate / pyroSequential)
    }
    if let pyroEight {
        extra["ratio_eight"] = hundredths(eightAffinity.rate / pyroEight)
        extra["ratio_eight_default"] = hundredths(eight.rate / pyroEight)
    }
    let p50 = sequentialAffinity.samples.percentile(0.5)
    let p99 = sequentialAffinity.samples.percentile(0.99)
    let met = sequentialAffinity.serverCPUPerCall <= 20 && p99 <= 3 * p50
        && (pyroSequential.map { sequentialAffinity.rate >= 4 * $0 } ?? false)
        && (pyroEight.map { eightAffinity.rate >= 6 * $0 } ?? false)
    return BenchmarkResult(
        bench: "wire.echo", opsPerSecond: sequentialAffinity.rate, p50Microseconds: p50, p99Microseconds: p99,
        target: ">= 4x Pyro5 sequential, >= 6x with 8 clients, server CPU <= 20 us/call, p99 <= 3x p50", met: met,
        extra: extra)
}

/// Rounds of `wire.echo`, and how long each of a round's phases runs.
private let echoRounds = 3
private let echoPhase = Duration.seconds(1)

/// Runs scripts/bench/pyro5_echo.py with the tools venv; empty when it cannot run.
private func pyro5Baseline(phaseSeconds: Double) -> [String: JSONValue] {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let python = root.appendingPathComponent(".venv-tools/bin/python3")
    guard FileManager.default.isExecutableFile(atPath: python.path) else {
        return ["pyro5_error": "no .venv-tools: run scripts/setup.sh"]
    }
    let process = Process()
    process.executableURL = python
    process.arguments = [root.appendingPathComponent("scripts/bench/pyro5_echo.py").path, String(phaseSeconds)]
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
    // The client's side of the same call: the request written, the response read (already
    // parsed to a tree by the connection), through `Codable` and past it (the hot methods'
    // `tree(ofParams:)` and `result(fromTree:)`).
    let params = InvokeMethod.Params(instrument: "stage-x", method: "moveTo", arguments: ["mm": 12.5, "wait": true], timeout: 30)
    let responseTree = try JSONParser.parse(try WireJSON.encode(response))
    let clientCodable = try measure {
        let bytes = try WireJSON.encode(RPCRequest(id: .number(41), method: InvokeMethod.name, params: params))
        let decoded = try JSONValueDecoder().decode(RPCResponse<InvokeMethod.Result>.self, from: responseTree)
        return bytes.count + (decoded.result?.value == nil ? 0 : 1)
    }
    let clientDirect = measure {
        let bytes = WireJSON.encodeRequest(id: .number(41), method: InvokeMethod.name, paramsTree: InvokeMethod.tree(ofParams: params)!)
        guard case .object(let members) = responseTree, let tree = members["result"] else { return 0 }
        return bytes.count + (InvokeMethod.result(fromTree: tree)?.value == nil ? 0 : 1)
    }
    let speedup = foundation.perCall / ours.perCall
    return BenchmarkResult(
        bench: "wire.json", opsPerSecond: 1e6 / ours.perCall, p50Microseconds: ours.perCall,
        p99Microseconds: ours.samples.percentile(0.99), target: "WireJSON faster than Foundation", met: speedup > 1,
        extra: [
            "foundation_p50_us": .double((foundation.perCall * 100).rounded() / 100),
            "foundation_p99_us": .double((foundation.samples.percentile(0.99) * 100).rounded() / 100),
            "speedup": .double((speedup * 100).rounded() / 100),
            "client_codable_p50_us": .double((clientCodable.perCall * 100).rounded() / 100),
            "client_direct_p50_us": .double((clientDirect.perCall * 100).rounded() / 100),
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
    // Pairs until `end`, each timed.
    @Sendable func pairs(until end: ContinuousClock.Instant) async throws -> (LatencySamples, Int) {
        var samples = LatencySamples(capacity: 50_000)
        var count = 0
        while ContinuousClock.now < end {
            let t0 = ContinuousClock.now
            try await client.release(try await client.acquire(["loopback"]))
            samples.add(ContinuousClock.now - t0)
            count += 1
        }
        return (samples, count)
    }
    // Rounds alternating the default executor and connection affinity (as in `wire.echo`).
    var samples = LatencySamples(capacity: 200_000)
    var defaultSamples = LatencySamples(capacity: 200_000)
    var count = 0
    var seconds = 0.0
    for _ in 0..<3 {
        let (plain, _) = try await pairs(until: .now + .seconds(1))
        defaultSamples.append(contentsOf: plain)
        let start = ContinuousClock.now
        let (near, nearCount) = try await client.withConnectionAffinity { try await pairs(until: .now + .seconds(1)) }
        seconds += (ContinuousClock.now - start).seconds
        samples.append(contentsOf: near)
        count += nearCount
    }
    await client.close()
    let p50 = samples.percentile(0.5)
    return BenchmarkResult(
        bench: "wire.lease", opsPerSecond: Double(count) / seconds, p50Microseconds: p50, p99Microseconds: samples.percentile(0.99),
        target: "acquire + release p50 <= 100 us", met: p50 <= 100,
        extra: [
            "p50_default_us": .double((defaultSamples.percentile(0.5) * 10).rounded() / 10),
            "p99_default_us": .double((defaultSamples.percentile(0.99) * 10).rounded() / 10),
        ])
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
    // Work that waits runs as the server runs it: as a `RequestTask` (the call queue runs the
    // driver inline in it), here in the benchmark's own task instead of a new one per request.
    func call() async -> Int {
        switch dispatcher.handle(request, from: session) {
        case .now(let response): return response?.count ?? 0
        case .later(let work): return await RequestTask().run { await work() }?.count ?? 0
        case .laterThen(let work): return await RequestTask().run { await work() }.response?.count ?? 0
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
