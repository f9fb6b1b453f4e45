import Foundation
import LabvisorClient

/// Event fan-out through the real daemon: the loopback's `emitEvents` publishes
/// `propertyChanged` events at a set rate; 10 Swift clients (each its own connection) `watch`
/// them. Each step of the ladder publishes for 2 s at one rate, then waits until every
/// subscriber has its last event (or 10 s pass). Delivered events per second is what the ten
/// received in total, divided by the time from the first publish to the last arrival; events
/// the daemon dropped for a subscriber that fell behind (its `gap` events) are counted apart.
/// The target is met when a step delivers at least 200,000 events/s with none dropped.
@Sendable func wireEvents() async throws -> BenchmarkResult {
    let daemon = try await DaemonUnderTest()
    defer { daemon.stop() }
    let endpoint = Endpoint.unix(daemon.socket)
    let producer = try await Labvisor.connect(to: endpoint)
    // Warm-up, outside the timing.
    _ = try await fanOutStep(endpoint: endpoint, producer: producer, rate: 5_000, seconds: 0.5, daemon: daemon)
    var steps: [JSONValue] = []
    var best: FanOutStep?
    for rate in [10_000.0, 20_000, 25_000, 30_000, 40_000] {
        let step = try await fanOutStep(endpoint: endpoint, producer: producer, rate: rate, seconds: 2, daemon: daemon)
        print("  wire.events step: \(step.line)")
        steps.append(.string(step.line))
        if step.dropped == 0, step.delivered > (best?.delivered ?? 0) { best = step }
        if step.dropped > 0 { break }  // past the most it sustains
    }
    await producer.close()
    let delivered = best?.delivered ?? 0
    return BenchmarkResult(
        bench: "wire.events", opsPerSecond: delivered, p50Microseconds: 0, p99Microseconds: 0,
        target: ">= 200,000 events/s received in total by 10 subscribers, none dropped", met: delivered >= 200_000,
        extra: [
            "subscribers": .int(FanOutStep.subscribers),
            "best_published_per_s": .double(best?.rate ?? 0),
            "server_cpu_us_per_event_delivered": .double(best?.cpuMicroseconds ?? 0),
            "client_cpu_us_per_event_delivered": .double(best?.clientCPUMicroseconds ?? 0),
            "steps": .array(steps),
        ])
}

/// One step of the fan-out ladder.
struct FanOutStep {
    static let subscribers = 10
    /// Events per second asked of the publisher.
    var rate: Double
    /// Events received per second by all subscribers together.
    var delivered: Double
    /// Events the daemon dropped for subscribers that fell behind.
    var dropped: Int
    /// Daemon CPU per delivered event.
    var cpuMicroseconds: Double
    /// This process's CPU (the ten clients) per delivered event.
    var clientCPUMicroseconds: Double

    var line: String {
        "published \(Int(rate))/s: delivered \(Int(delivered.rounded()))/s, dropped \(dropped), CPU per delivered event: daemon \(cpuMicroseconds) us, clients \(clientCPUMicroseconds) us"
    }
}

/// Publishes `rate * seconds` events at `rate` to 10 fresh subscribers and measures delivery.
func fanOutStep(endpoint: Endpoint, producer: Labvisor, rate: Double, seconds: Double, daemon: DaemonUnderTest) async throws -> FanOutStep {
    let count = Int(rate * seconds)
    var watchers: [Labvisor] = []
    var streams: [EventWatch] = []
    for _ in 0..<FanOutStep.subscribers {
        let watcher = try await Labvisor.connect(to: endpoint)
        streams.append(try await watcher.watch(kinds: [.propertyChanged], instruments: ["loopback"]))
        watchers.append(watcher)
    }
    // Each subscriber reads until the last event of the step (tick == count) or the end.
    let counting = streams.map { stream in
        Task { () -> (received: Int, missed: Int, last: ContinuousClock.Instant) in
            var received = 0
            var missed = 0
            for await event in stream {
                if event.kind == .gap {
                    missed += Int(event.fields["missed"]?.number ?? 0)
                    continue
                }
                received += 1
                if event.fields["value"] == .int(count) { break }
            }
            return (received, missed, .now)
        }
    }
    let cpuBefore = daemon.cpuSeconds
    let clientCPUBefore = processCPUSeconds()
    let start = ContinuousClock.now
    try await producer.invoke("loopback", "emitEvents", ["count": .int(count), "perSecond": .double(rate)], timeout: .seconds(seconds * 5 + 10))
    // Bounded: a subscriber whose last event was dropped ends when its connection closes.
    let connections = watchers
    let cutOff = Task {
        try? await Task.sleep(for: .seconds(10))
        for watcher in connections { await watcher.close() }
    }
    var received = 0
    var missed = 0
    var last = start
    for task in counting {
        let counts = await task.value
        received += counts.received
        missed += counts.missed
        last = max(last, counts.last)
    }
    let cpu = daemon.cpuSeconds - cpuBefore
    let clientCPU = processCPUSeconds() - clientCPUBefore
    cutOff.cancel()
    for watcher in watchers { await watcher.close() }
    let elapsed = (last - start).seconds
    return FanOutStep(
        rate: rate, delivered: Double(received) / elapsed, dropped: count * FanOutStep.subscribers - received,
        cpuMicroseconds: received > 0 ? (cpu / Double(received) * 1e7).rounded() / 10 : 0,
        clientCPUMicroseconds: received > 0 ? (clientCPU / Double(received) * 1e7).rounded() / 10 : 0)
}
