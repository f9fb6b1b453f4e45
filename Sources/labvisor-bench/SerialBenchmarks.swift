import Foundation
import LabvisorCore
import LabvisorHardware

#if canImport(Glibc)
    import Glibc
#endif

/// The benchmarks of the serial transport (issue "Hardware", part 3).
let serialBenchmarks: [Benchmark] = [
    Benchmark(
        name: "serial.roundtrip",
        summary: "line request/response through SerialExchange on a PTY, against a blocking read/write loop",
        run: serialRoundTrip)
]

/// A PTY pair whose master side echoes every byte back from a thread of its own, until the
/// slave side is closed (the master's read then fails with EIO).
private final class EchoingPTY: Sendable {
    let master: Int32
    let slave: Int32
    let path: String

    init() throws {
        var master: Int32 = -1
        var slave: Int32 = -1
        guard openpty(&master, &slave, nil, nil, nil) == 0 else {
            throw LabvisorError(.unavailable, "openpty failed: \(String(cString: strerror(errno)))")
        }
        var name = [CChar](repeating: 0, count: 128)
        guard ttyname_r(slave, &name, name.count) == 0 else { throw LabvisorError(.unavailable, "ttyname_r failed") }
        self.master = master
        self.slave = slave
        self.path = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let thread = Thread { [master] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = Glibc.read(master, &buffer, buffer.count)
                if count <= 0 {
                    if count < 0 && errno == EINTR { continue }
                    break
                }
                var offset = 0
                while offset < count {
                    let written = buffer.withUnsafeBytes { Glibc.write(master, $0.baseAddress! + offset, count - offset) }
                    if written <= 0 { break }
                    offset += written
                }
            }
            Glibc.close(master)
        }
        thread.start()
    }
}

/// One round trip's line: 16 bytes, the size of a typical instrument query.
private let requestLine = Array("1 get pos 00042\n".utf8)

/// Round trips per second through `SerialExchange` (the reactor, the decoder, the turn
/// taking) and through a plain blocking `write`/`read` loop on the same kind of PTY pair.
/// The two alternate in blocks, so that the load of a shared machine falls on both alike.
/// Extras: the CPU time per round trip of the thread making them, and the port alone
/// (`port_*`: `SerialPort.write` and `read` without the exchange).
@Sendable func serialRoundTrip() async throws -> BenchmarkResult {
    let blocks = 10
    let perBlock = 2_000
    let warmup = 1_000

    // Plain: blocking descriptor, raw mode, read until the newline.
    let plainPTY = try EchoingPTY()
    defer { Glibc.close(plainPTY.slave) }
    var options = termios()
    tcgetattr(plainPTY.slave, &options)
    cfmakeraw(&options)
    tcsetattr(plainPTY.slave, TCSANOW, &options)
    var buffer = [UInt8](repeating: 0, count: 256)
    func plainRoundTrip() throws {
        _ = requestLine.withUnsafeBytes { Glibc.write(plainPTY.slave, $0.baseAddress, $0.count) }
        var received = 0
        while received < requestLine.count {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(plainPTY.slave, $0.baseAddress! + received, $0.count - received) }
            guard count > 0 else { throw LabvisorError(.deviceGone, "plain PTY read failed") }
            received += count
        }
    }

    // Through the exchange, from a task that runs on the reactor thread (as a driver's
    // would): a ready port resumes it without a hop to the global executor's threads.
    let exchangePTY = try EchoingPTY()
    let port = try SerialPort.open(exchangePTY.path, settings: SerialSettings(baudRate: 115_200))
    defer {
        port.close()
        Glibc.close(exchangePTY.slave)
    }
    let exchange = SerialExchange(port: port, decoder: LineFrameDecoder())
    @Sendable func exchangeRoundTrips(_ count: Int) async throws -> (LatencySamples, Double, Double, Double) {
        try await exchange.withReactorAffinity {
            var samples = LatencySamples(capacity: count)
            let start = ContinuousClock.now
            let cpuStart = threadCPUSeconds()
            let userStart = threadUserSeconds()
            for _ in 0..<count {
                let t0 = ContinuousClock.now
                _ = try await exchange.request(requestLine, timeout: .seconds(5))
                samples.add(ContinuousClock.now - t0)
            }
            return (samples, (ContinuousClock.now - start).seconds, threadCPUSeconds() - cpuStart, threadUserSeconds() - userStart)
        }
    }

    // The port alone (write, then read until the reply is complete), on the same port and
    // reactor thread: what the reactor and the concurrency runtime cost without the
    // exchange's turn taking, decoder and deadline bookkeeping on top.
    @Sendable func portRoundTrips(_ count: Int) async throws -> (LatencySamples, Double) {
        try await port.withReactorAffinity {
            var samples = LatencySamples(capacity: count)
            let start = ContinuousClock.now
            for _ in 0..<count {
                let t0 = ContinuousClock.now
                try await port.write(requestLine, timeout: .seconds(5))
                var received = 0
                while received < requestLine.count {
                    received += try await port.read(upTo: 256, timeout: .seconds(5)).count
                }
                samples.add(ContinuousClock.now - t0)
            }
            return (samples, (ContinuousClock.now - start).seconds)
        }
    }

    for _ in 0..<warmup { try plainRoundTrip() }
    _ = try await exchangeRoundTrips(warmup)
    _ = try await portRoundTrips(warmup)
    var portOnly = LatencySamples(capacity: blocks * perBlock)
    var portSeconds = 0.0
    var plain = LatencySamples(capacity: blocks * perBlock)
    var samples = LatencySamples(capacity: blocks * perBlock)
    var plainSeconds = 0.0
    var seconds = 0.0
    // CPU time of the thread that makes the round trips (the caller's, or the reactor's).
    var plainCPU = 0.0
    var plainUser = 0.0
    var cpu = 0.0
    var user = 0.0
    for _ in 0..<blocks {
        let plainStart = ContinuousClock.now
        let plainCPUStart = threadCPUSeconds()
        let plainUserStart = threadUserSeconds()
        for _ in 0..<perBlock {
            let t0 = ContinuousClock.now
            try plainRoundTrip()
            plain.add(ContinuousClock.now - t0)
        }
        plainCPU += threadCPUSeconds() - plainCPUStart
        plainUser += threadUserSeconds() - plainUserStart
        plainSeconds += (ContinuousClock.now - plainStart).seconds
        let (blockSamples, blockSeconds, blockCPU, blockUser) = try await exchangeRoundTrips(perBlock)
        samples.append(contentsOf: blockSamples)
        seconds += blockSeconds
        cpu += blockCPU
        user += blockUser
        let (portSamples, portBlockSeconds) = try await portRoundTrips(perBlock)
        portOnly.append(contentsOf: portSamples)
        portSeconds += portBlockSeconds
    }

    let plainRate = Double(blocks * perBlock) / plainSeconds
    let rate = Double(blocks * perBlock) / seconds
    let ratio = plainRate / rate
    return BenchmarkResult(
        bench: "serial.roundtrip", opsPerSecond: rate, p50Microseconds: samples.percentile(0.5),
        p99Microseconds: samples.percentile(0.99), target: "round trip <= 1.5x plain blocking loop", met: ratio <= 1.5,
        extra: [
            "plain_ops_per_s": .double(plainRate.rounded()),
            "plain_p50_us": .double((plain.percentile(0.5) * 1000).rounded() / 1000),
            "plain_p99_us": .double((plain.percentile(0.99) * 1000).rounded() / 1000),
            "ratio": .double((ratio * 100).rounded() / 100),
            "port_ops_per_s": .double((Double(blocks * perBlock) / portSeconds).rounded()),
            "port_p50_us": .double((portOnly.percentile(0.5) * 1000).rounded() / 1000),
            "cpu_us": .double(microseconds(cpu / Double(blocks * perBlock))),
            "cpu_user_us": .double(microseconds(user / Double(blocks * perBlock))),
            "plain_cpu_us": .double(microseconds(plainCPU / Double(blocks * perBlock))),
            "plain_cpu_user_us": .double(microseconds(plainUser / Double(blocks * perBlock))),
        ])
}

/// Seconds as microseconds, to a tenth.
private func microseconds(_ seconds: Double) -> Double { (seconds * 1e7).rounded() / 10 }

/// CPU time of the calling thread so far, in seconds.
private func threadCPUSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

/// User CPU time of the calling thread so far, in seconds (the rest of `threadCPUSeconds`
/// is system time).
private func threadUserSeconds() -> Double {
    var usage = rusage()
    getrusage(__rusage_who_t(1), &usage)  // RUSAGE_THREAD (Linux), which Glibc's module does not export
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
}
