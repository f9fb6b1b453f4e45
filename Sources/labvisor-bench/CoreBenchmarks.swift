import LabvisorCore

/// The benchmarks of the core concepts (issue "Foundation").
let coreBenchmarks: [Benchmark] = [
    Benchmark(name: "lease.acquire-release", summary: "uncontended lease acquire + release", run: leaseAcquireRelease),
    Benchmark(name: "lease.handoff", summary: "release to a waiting task until it holds the lease", run: leaseHandoff),
    Benchmark(name: "calls.dispatch", summary: "a no-op call through an instrument's call queue", run: { try await callDispatch(timeout: nil) }),
    Benchmark(name: "calls.dispatch-deadline", summary: "the same call with a deadline", run: { try await callDispatch(timeout: .seconds(10)) }),
    Benchmark(name: "requirements.query-10k", summary: "a requirements query over 10,000 instruments", run: requirementsQuery),
    Benchmark(name: "session.open-close", summary: "100,000 open/close pairs from 8 tasks on one shared session", run: sessionOpenClose),
    Benchmark(name: "events.fanout-10", summary: "events delivered to 10 subscribers", run: eventFanout),
]

private func elapsed(_ start: ContinuousClock.Instant) -> Double {
    (ContinuousClock.now - start).seconds
}

/// A lease table with one instrument per name, publishing to a bus as the daemon's does.
private func benchTable(_ names: [String]) -> LeaseTable {
    let table = LeaseTable(events: EventBus())
    for name in names { table.register(name, document: ["name": .string(name), "kind": "stage"], status: "ready") }
    return table
}

@Sendable func leaseAcquireRelease() async throws -> BenchmarkResult {
    let table = benchTable(["stage-x"])
    let client = ClientRef(id: 1, name: "bench")
    let iterations = 200_000
    for _ in 0..<10_000 {
        try table.release(try await table.acquire(.names(["stage-x"]), for: client, timeout: .zero).id, by: client)
    }
    var samples = LatencySamples(capacity: iterations)
    let start = ContinuousClock.now
    for _ in 0..<iterations {
        let t0 = ContinuousClock.now
        let lease = try await table.acquire(.names(["stage-x"]), for: client, timeout: .zero)
        try table.release(lease.id, by: client)
        samples.add(ContinuousClock.now - t0)
    }
    let seconds = elapsed(start)
    let p50 = samples.percentile(0.5)
    return BenchmarkResult(
        bench: "lease.acquire-release", opsPerSecond: Double(iterations) / seconds, p50Microseconds: p50,
        p99Microseconds: samples.percentile(0.99), target: "p50 <= 2 us", met: p50 <= 2)
}

/// Two tasks pass one lease back and forth; each handoff is timed from the holder's
/// release to the waiter's acquire returning.
@Sendable func leaseHandoff() async throws -> BenchmarkResult {
    let table = benchTable(["stage-x"])
    let rounds = 20_000
    let releasedAt = Shared<ContinuousClock.Instant>(.now)
    let samples = Shared(LatencySamples(capacity: rounds))
    // Side 0 holds the lease before either side starts, so side 1 cannot take it first.
    let first = try await table.acquire(.names(["stage-x"]), for: ClientRef(id: 1, name: "side 0"), timeout: .zero)
    let start = ContinuousClock.now
    try await withThrowingTaskGroup(of: Void.self) { group in
        for side in 0..<2 {
            group.addTask {
                let me = ClientRef(id: UInt64(side + 1), name: "side \(side)")
                var lease: Lease? = side == 0 ? first : nil
                for round in 0..<rounds where round % 2 == side {
                    if lease == nil {
                        lease = try await table.acquire(.names(["stage-x"]), for: me, timeout: .seconds(10))
                        let now = ContinuousClock.now
                        let released = releasedAt.withLock { $0 }
                        samples.withLock { $0.add(now - released) }
                    }
                    if round == rounds - 1 { break }
                    // Hand over once the other side waits.
                    let spinStart = ContinuousClock.now
                    while table.waiterCount == 0 {
                        try Task.checkCancellation()
                        if ContinuousClock.now - spinStart > .seconds(5) {
                            throw LabvisorError(
                                .timeout,
                                "handoff stalled in round \(round) on side \(side): waiters \(table.waiterCount), leases \(table.leases), seen \(table.requestsSeen), scheduler pending \(DeadlineScheduler.shared.pending)")
                        }
                        await Task.yield()
                    }
                    releasedAt.withLock { $0 = .now }
                    try table.release(lease!.id, by: me)
                    lease = nil
                }
                if let lease { try table.release(lease.id, by: me) }
            }
        }
        try await group.waitForAll()
    }
    let seconds = elapsed(start)
    let measured = samples.withLock { $0 }
    let p50 = measured.percentile(0.5)
    return BenchmarkResult(
        bench: "lease.handoff", opsPerSecond: Double(measured.nanoseconds.count) / seconds, p50Microseconds: p50,
        p99Microseconds: measured.percentile(0.99), target: "p50 <= 20 us", met: p50 <= 20)
}

/// Sequential no-op calls through a call queue; the overhead is the call's time minus a
/// direct call of the same closure.
@Sendable func callDispatch(timeout: Duration?) async throws -> BenchmarkResult {
    let queue = CallQueue(instrument: "loopback")
    let iterations = 100_000
    let body: @Sendable () async throws -> Int = { 1 }
    for _ in 0..<5_000 { _ = try await queue.perform("echo", timeout: timeout, body) }
    var direct = LatencySamples(capacity: iterations)
    for _ in 0..<iterations {
        let t0 = ContinuousClock.now
        _ = try await body()
        direct.add(ContinuousClock.now - t0)
    }
    var samples = LatencySamples(capacity: iterations)
    let start = ContinuousClock.now
    for _ in 0..<iterations {
        let t0 = ContinuousClock.now
        _ = try await queue.perform("echo", timeout: timeout, body)
        samples.add(ContinuousClock.now - t0)
    }
    let seconds = elapsed(start)
    let overhead = samples.percentile(0.5) - direct.percentile(0.5)
    return BenchmarkResult(
        bench: timeout == nil ? "calls.dispatch" : "calls.dispatch-deadline", opsPerSecond: Double(iterations) / seconds,
        p50Microseconds: samples.percentile(0.5), p99Microseconds: samples.percentile(0.99),
        target: "overhead <= 5 us per call", met: overhead <= 5,
        extra: ["overhead_us": .double((overhead * 100).rounded() / 100)])
}

/// Ten thousand instrument documents, a query that matches a quarter of them.
@Sendable func requirementsQuery() async throws -> BenchmarkResult {
    let kinds = ["stage", "laser", "camera", "sensor"]
    let documents: [JSONValue] = (0..<10_000).map { index in
        [
            "name": .string("inst-\(index)"), "kind": .string(kinds[index % 4]), "driver": "zaber-ascii",
            "state": index % 7 == 0 ? "busy" : "ready",
            "tags": ["room": index % 2 == 0 ? "B12" : "C3", "travel_mm": .int(index % 50)],
            "identity": ["vendorID": "2939", "serial": .string(String(30000 + index)), "bus": "usb"],
        ]
    }
    let query = try RequirementQuery(parsing: [
        "kind": "stage", "tags.room": ["$in": ["B12", "A1"]], "tags.travel_mm": ["$gte": 20],
        "identity.serial": ["$regex": "^3"],
    ])
    let iterations = 300
    var samples = LatencySamples(capacity: iterations)
    var matched = 0
    let start = ContinuousClock.now
    for _ in 0..<iterations {
        let t0 = ContinuousClock.now
        matched = documents.reduce(0) { $0 + (query.matches($1) ? 1 : 0) }
        samples.add(ContinuousClock.now - t0)
    }
    let seconds = elapsed(start)
    let p50 = samples.percentile(0.5)
    return BenchmarkResult(
        bench: "requirements.query-10k", opsPerSecond: Double(iterations) / seconds, p50Microseconds: p50,
        p99Microseconds: samples.percentile(0.99), target: "p50 <= 5 ms", met: p50 <= 5000,
        extra: ["matched": .int(matched), "ns_per_document": .double((p50 * 1000 / 10_000).rounded())])
}

/// 8 tasks × 12,500 open/close pairs on one session with a trivial resource.
@Sendable func sessionOpenClose() async throws -> BenchmarkResult {
    let startups = Shared(0)
    let session = SharedSession<Int>(name: "bench") {
        startups.withLock { $0 += 1 }
        return 1
    } shutdown: { _ in }
    let tasks = 8
    let pairs = 12_500
    let start = ContinuousClock.now
    let all = try await withThrowingTaskGroup(of: LatencySamples.self) { group in
        for index in 0..<tasks {
            group.addTask {
                var samples = LatencySamples(capacity: pairs)
                for _ in 0..<pairs {
                    let t0 = ContinuousClock.now
                    let reference = try await session.open(by: "task \(index)")
                    try session.close(reference)
                    samples.add(ContinuousClock.now - t0)
                }
                return samples
            }
        }
        var all = LatencySamples(capacity: tasks * pairs)
        for try await samples in group { all.append(contentsOf: samples) }
        return all
    }
    let seconds = elapsed(start)
    await session.settle()
    return BenchmarkResult(
        bench: "session.open-close", opsPerSecond: Double(tasks * pairs) / seconds, p50Microseconds: all.percentile(0.5),
        p99Microseconds: all.percentile(0.99), target: "100,000 pairs < 1 s", met: seconds < 1,
        extra: ["total_s": .double((seconds * 1000).rounded() / 1000), "startups": .int(startups.withLock { $0 })])
}

/// One publisher, ten subscribers each reading everything; events delivered per second in
/// total. Latency is publish-to-receive of one event per subscriber.
@Sendable func eventFanout() async throws -> BenchmarkResult {
    let bus = EventBus(bufferSize: 4096)
    let events = 100_000
    let subscriptions = (0..<10).map { _ in bus.subscribe() }
    let start = ContinuousClock.now
    let (delivered, latencies) = await withTaskGroup(of: (Int, LatencySamples).self) { group in
        for subscription in subscriptions {
            group.addTask {
                var count = 0
                var samples = LatencySamples(capacity: events / 100)
                for await event in subscription {
                    if event.kind == .gap { count += Int(event.fields["missed"]?.number ?? 0); continue }
                    count += 1
                    if count % 100 == 0, let sent = event.fields["t"]?.number {
                        samples.add(.nanoseconds(Int64(ContinuousClock.now.nanosecondsSinceStart) - Int64(sent)))
                    }
                    if event.fields["last"] == true { break }
                }
                return (count, samples)
            }
        }
        group.addTask {
            for index in 0..<events {
                var fields: [String: JSONValue] = ["t": .int(Int(ContinuousClock.now.nanosecondsSinceStart))]
                if index == events - 1 { fields["last"] = true }
                bus.publish(Event(kind: .propertyChanged, instrument: "stage-x", fields: fields))
                if index % 512 == 0 { await Task.yield() }
            }
            return (0, LatencySamples(capacity: 0))
        }
        var delivered = 0
        var all = LatencySamples(capacity: events / 10)
        for await (count, samples) in group {
            delivered += count
            all.append(contentsOf: samples)
        }
        return (delivered, all)
    }
    let seconds = elapsed(start)
    let missed = subscriptions.reduce(0) { $0 + $1.missed }
    let rate = Double(delivered - missed) / seconds
    return BenchmarkResult(
        bench: "events.fanout-10", opsPerSecond: rate, p50Microseconds: latencies.percentile(0.5),
        p99Microseconds: latencies.percentile(0.99), target: ">= 200,000 events/s delivered", met: rate >= 200_000,
        extra: ["missed": .int(missed), "published": .int(events)])
}

extension ContinuousClock.Instant {
    /// Nanoseconds since an arbitrary fixed origin (for stamping events across tasks).
    fileprivate var nanosecondsSinceStart: Int64 {
        let duration = self - benchOrigin
        return duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
    }
}

private let benchOrigin = ContinuousClock.now

/// A value shared between benchmark tasks, behind a lock.
private final class Shared<Value: Sendable>: Sendable {
    private let value: LockedState<Value>
    init(_ value: Value) { self.value = LockedState(value) }
    func withLock<Result: Sendable>(_ body: (inout Value) -> Result) -> Result { value.withLock { body(&$0) } }
}
