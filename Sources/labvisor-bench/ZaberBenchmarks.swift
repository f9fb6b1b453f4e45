import LabvisorCore
import LabvisorDriverKit
import LabvisorHardware
import LabvisorSimulation
import ZaberASCII
import ZaberASCIISimulator

/// The benchmarks of the Zaber ASCII reference driver.
let zaberBenchmarks: [Benchmark] = [
    Benchmark(
        name: "zaber.getpos",
        summary: "Zaber `get pos` through DriverHost (read position) against a raw LineChannel query, same simulator and port",
        run: zaberGetPos)
]

/// Round trips per second of a Zaber `get pos` on a simulated controller on a PTY, two ways
/// in alternating blocks over the same open port: through the driver (`DriverHost.read
/// ("position")`: call queue, driver actor, message-id pairing, reply parsing, unit
/// conversion) and raw (`LineChannel.query("/1 1 00 get pos")`, the same bytes on the wire);
/// a third loop calls the driver's `position` getter directly, without the host.
@Sendable func zaberGetPos() async throws -> BenchmarkResult {
    let blocks = 10
    let perBlock = 1_000
    let warmup = 500

    let device = try SimulatedSerialDevice(model: ZaberSimulatedController(deviceNumber: 1, axisCount: 2))
    device.start()
    defer { device.stop() }
    let transport = SerialTransport(settings: SerialSettings(baudRate: 115_200), lineEnding: "\n")
    let port = try SerialPort.open(device.path, settings: transport.settings)
    let context = DriverContext(instrument: "bench-stage", connection: .serial(port, transport))
    let host = try await DriverHost<ZaberASCIIDriver>.open(context)
    do {
        return try await measure(host, port: port, blocks: blocks, perBlock: perBlock, warmup: warmup)
    } catch {
        try? await host.shutdown(timeout: .seconds(2))
        throw error
    }
}

private func measure(
    _ host: DriverHost<ZaberASCIIDriver>, port: SerialPort, blocks: Int, perBlock: Int, warmup: Int
) async throws -> BenchmarkResult {
    // The raw channel shares the port; the two are used strictly in turn, never at once.
    let raw = LineChannel(port: port, lineEnding: "\n", timeout: .seconds(5)) { $0.hasPrefix("@01 ") }

    @Sendable func rawRoundTrips(_ count: Int) async throws -> (LatencySamples, Double) {
        try await timedRoundTrips(count) {
            let reply = try await raw.query("/1 1 00 get pos")
            guard reply.hasPrefix("@01 1 00 OK") else { throw LabvisorError(.driverFault, "unexpected raw reply '\(reply)'") }
        }
    }
    @Sendable func driverRoundTrips(_ count: Int) async throws -> (LatencySamples, Double) {
        try await timedRoundTrips(count) {
            guard try await host.read("position", timeout: .seconds(5)).number != nil else {
                throw LabvisorError(.driverFault, "position is not a number")
            }
        }
    }
    // The driver without the host: the property's getter called on the driver actor
    // directly (no call queue), to tell the host's share of the overhead from the driver's.
    let position = ZaberASCIIDriver.properties.first { $0.schema.name == "position" }!
    let driver = host.driver
    @Sendable func directRoundTrips(_ count: Int) async throws -> (LatencySamples, Double) {
        try await timedRoundTrips(count) {
            guard try await position.read(from: driver).number != nil else {
                throw LabvisorError(.driverFault, "position is not a number")
            }
        }
    }

    _ = try await rawRoundTrips(warmup)
    _ = try await driverRoundTrips(warmup)
    _ = try await directRoundTrips(warmup)
    var rawSamples = LatencySamples(capacity: blocks * perBlock)
    var driverSamples = LatencySamples(capacity: blocks * perBlock)
    var directSamples = LatencySamples(capacity: blocks * perBlock)
    var rawSeconds = 0.0
    var driverSeconds = 0.0
    var directSeconds = 0.0
    for _ in 0..<blocks {
        let (rawBlock, rawBlockSeconds) = try await rawRoundTrips(perBlock)
        rawSamples.append(contentsOf: rawBlock)
        rawSeconds += rawBlockSeconds
        let (driverBlock, driverBlockSeconds) = try await driverRoundTrips(perBlock)
        driverSamples.append(contentsOf: driverBlock)
        driverSeconds += driverBlockSeconds
        let (directBlock, directBlockSeconds) = try await directRoundTrips(perBlock)
        directSamples.append(contentsOf: directBlock)
        directSeconds += directBlockSeconds
    }
    let rawRate = Double(blocks * perBlock) / rawSeconds
    let driverRate = Double(blocks * perBlock) / driverSeconds
    let overhead = rawRate / driverRate - 1
    try await host.shutdown(timeout: .seconds(2))
    return BenchmarkResult(
        bench: "zaber.getpos", opsPerSecond: driverRate, p50Microseconds: driverSamples.percentile(0.5),
        p99Microseconds: driverSamples.percentile(0.99), target: "driver overhead < 30% over the raw round trip",
        met: overhead < 0.30,
        extra: [
            "raw_ops_per_s": .double(rawRate.rounded()),
            "raw_p50_us": .double((rawSamples.percentile(0.5) * 1000).rounded() / 1000),
            "raw_p99_us": .double((rawSamples.percentile(0.99) * 1000).rounded() / 1000),
            "overhead_percent": .double((overhead * 1000).rounded() / 10),
            "direct_ops_per_s": .double((Double(blocks * perBlock) / directSeconds).rounded()),
            "direct_p50_us": .double((directSamples.percentile(0.5) * 1000).rounded() / 1000),
            "direct_p99_us": .double((directSamples.percentile(0.99) * 1000).rounded() / 1000),
        ])
}

/// Runs `roundTrip` `count` times from a task that prefers the reactor's executor (as a
/// driver's calls would run); returns each one's time and the loop's wall time in seconds.
private func timedRoundTrips(
    _ count: Int, _ roundTrip: @escaping @Sendable () async throws -> Void
) async throws -> (LatencySamples, Double) {
    try await withTaskExecutorPreference(IOReactor.shared) {
        var samples = LatencySamples(capacity: count)
        let start = ContinuousClock.now
        for _ in 0..<count {
            let t0 = ContinuousClock.now
            try await roundTrip()
            samples.add(ContinuousClock.now - t0)
        }
        return (samples, (ContinuousClock.now - start).seconds)
    }
}
