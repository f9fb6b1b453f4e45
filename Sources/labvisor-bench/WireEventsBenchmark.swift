import Foundation
import LabvisorClient

/// Event fan-out through the real daemon: the loopback's `emitEvents` publishes bursts of
/// `propertyChanged` events; 10 Swift clients each `watch` them. The rate is every event the
/// ten received in the timed phase, divided by its length; events the daemon dropped for a
/// slow subscriber (its `gap` events) are reported, not counted.
@Sendable func wireEvents() async throws -> BenchmarkResult {
    let daemon = try await DaemonUnderTest()
    defer { daemon.stop() }
    let endpoint = Endpoint.unix(daemon.socket)
    let subscribers = 10
    let producer = try await Labvisor.connect(to: endpoint)
    var watchers: [Labvisor] = []
    var streams: [AsyncStream<Event>] = []
    for _ in 0..<subscribers {
        let watcher = try await Labvisor.connect(to: endpoint)
        streams.append(try await watcher.watch(kinds: [.propertyChanged], instruments: ["loopback"]))
        watchers.append(watcher)
    }
    let phaseLength = Duration.seconds(3)
    let timing = LockedState<(start: ContinuousClock.Instant, end: ContinuousClock.Instant)?>(nil)
    // Each subscriber counts what arrives inside the timed phase.
    let counting = streams.map { stream in
        Task { () -> (received: Int, missed: Int) in
            var received = 0
            var missed = 0
            for await event in stream {
                guard let window = timing.withLock({ $0 }) else { continue }
                let now = ContinuousClock.now
                if now > window.end { break }
                guard now >= window.start else { continue }
                if event.kind == .gap {
                    missed += Int(event.fields["missed"]?.number ?? 0)
                } else {
                    received += 1
                }
            }
            return (received, missed)
        }
    }
    // Warm-up, outside the timing.
    try await producer.invoke("loopback", "emitEvents", ["count": 20_000], timeout: .seconds(60))
    try await Task.sleep(for: .milliseconds(300))
    let start = ContinuousClock.now
    timing.withLock { $0 = (start, start + phaseLength) }
    let cpuBefore = daemon.cpuSeconds
    var published = 0
    while ContinuousClock.now < start + phaseLength {
        try await producer.invoke("loopback", "emitEvents", ["count": 20_000], timeout: .seconds(60))
        published += 20_000
    }
    let cpu = daemon.cpuSeconds - cpuBefore
    // One more burst ends every subscriber's loop (its first event after the phase).
    try await producer.invoke("loopback", "emitEvents", ["count": 1_000], timeout: .seconds(60))
    // Closing the connections ends every subscriber's stream, so each count is final.
    try await Task.sleep(for: .milliseconds(200))
    for watcher in watchers { await watcher.close() }
    var received = 0
    var missed = 0
    for task in counting {
        let counts = await task.value
        received += counts.received
        missed += counts.missed
    }
    await producer.close()
    let rate = Double(received) / phaseLength.seconds
    return BenchmarkResult(
        bench: "wire.events", opsPerSecond: rate, p50Microseconds: 0, p99Microseconds: 0,
        target: ">= 200,000 events/s received in total by 10 subscribers", met: rate >= 200_000,
        extra: [
            "subscribers": .int(subscribers),
            "published_per_s": .double((Double(published) / phaseLength.seconds).rounded()),
            "dropped_by_daemon": .int(missed),
            "server_cpu_us_per_event_delivered": .double(received > 0 ? (cpu / Double(received) * 1e7).rounded() / 10 : 0),
        ])
}
