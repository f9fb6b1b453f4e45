import Foundation
import LabvisorClient
import LabvisorCore
import LabvisorHardware
import LabvisorProtocol
import LabvisorServer

/// The state store's cost on the request path (issue "operations and security", Measure).
let storeBenchmarks: [Benchmark] = [
    Benchmark(
        name: "store.allocations",
        summary: "10,000 allocation records written while 8 clients call loopback echo on the real labvisord: call p99 with and without the store",
        run: storeAllocations),
    Benchmark(
        name: "store.write",
        summary: "50,000 allocation records written by StateStore.write in batches of 128 on one thread (the writer alone): CPU per record",
        run: storeWrite),
]

/// How many allocation records one phase writes.
private let allocationCount = 10_000

/// One phase: a daemon (with or without `--state-dir`), 8 clients calling `echo` in a loop
/// while a 9th acquires and releases the loopback instrument `allocationCount` times (each
/// release is one allocation record). Returns the echo latencies and, with a store, how long
/// after the last release the store had committed every record.
private func allocationPhase(stateDirectory: String?) async throws -> (samples: LatencySamples, seconds: Double, commitLag: Double?, daemonCPU: Double) {
    let daemon = try await DaemonUnderTest(arguments: stateDirectory.map { ["--state-dir", $0] } ?? [])
    defer { daemon.stop() }
    let endpoint = Endpoint.unix(daemon.socket)
    let callers = try await withThrowingTaskGroup(of: Labvisor.self) { group in
        for _ in 0..<8 { group.addTask { try await Labvisor.connect(to: endpoint) } }
        return try await group.reduce(into: []) { $0.append($1) }
    }
    let leaser = try await Labvisor.connect(to: endpoint)
    for caller in callers { for _ in 0..<200 { try await caller.invoke("loopback", "echo", ["value": 1]) } }

    let cpuBefore = daemon.cpuSeconds
    let start = ContinuousClock.now
    let done = LockedState(false)
    let samples = try await withThrowingTaskGroup(of: LatencySamples.self) { group in
        for caller in callers {
            group.addTask {
                var samples = LatencySamples(capacity: 100_000)
                while !done.withLock({ $0 }) {
                    let t0 = ContinuousClock.now
                    try await caller.invoke("loopback", "echo", ["value": 1])
                    samples.add(ContinuousClock.now - t0)
                }
                return samples
            }
        }
        group.addTask {
            defer { done.withLock { $0 = true } }
            for _ in 0..<allocationCount {
                let lease = try await leaser.acquire(["loopback"])
                try await leaser.release(lease)
            }
            return LatencySamples(capacity: 0)
        }
        return try await group.reduce(into: LatencySamples(capacity: 800_000)) { $0.append(contentsOf: $1) }
    }
    let seconds = (ContinuousClock.now - start).seconds
    var commitLag: Double?
    if stateDirectory != nil {
        // Bounded: the records must all be committed within 60 s of the last release.
        let released = ContinuousClock.now
        while ContinuousClock.now - released < .seconds(60) {
            if try await leaser.history(limit: allocationCount).records.count == allocationCount {
                commitLag = (ContinuousClock.now - released).seconds
                break
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
    // Up to the last commit: the store's writing is part of this phase's CPU.
    let daemonCPU = daemon.cpuSeconds - cpuBefore
    for caller in callers { await caller.close() }
    await leaser.close()
    return (samples, seconds, commitLag, daemonCPU)
}

@Sendable private func storeAllocations() async throws -> BenchmarkResult {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("store-bench-\(getpid())")
    defer { try? FileManager.default.removeItem(at: folder) }
    // Alternating rounds, so a change in the machine's load hits both sides.
    var without: [Double] = []
    var with: [Double] = []
    var withP50: [Double] = []
    var withoutP50: [Double] = []
    var lags: [Double] = []
    var rates: [Double] = []
    // Daemon CPU per echo call and allocation, with and without the store.
    var cpuWith: [Double] = []
    var cpuWithout: [Double] = []
    for round in 0..<5 {
        let plain = try await allocationPhase(stateDirectory: nil)
        without.append(plain.samples.percentile(0.99))
        withoutP50.append(plain.samples.percentile(0.5))
        cpuWithout.append(plain.daemonCPU / Double(plain.samples.nanoseconds.count + allocationCount))
        let state = folder.appendingPathComponent("round-\(round)").path
        let stored = try await allocationPhase(stateDirectory: state)
        with.append(stored.samples.percentile(0.99))
        withP50.append(stored.samples.percentile(0.5))
        cpuWith.append(stored.daemonCPU / Double(stored.samples.nanoseconds.count + allocationCount))
        rates.append(Double(allocationCount) / stored.seconds)
        guard let lag = stored.commitLag else {
            throw LabvisorError(.timeout, "the store did not commit \(allocationCount) records within 60 s of the last release")
        }
        lags.append(lag)
    }
    func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
    let p99With = median(with)
    let p99Without = median(without)
    let ratio = p99With / p99Without
    func rounded(_ value: Double) -> JSONValue { .double((value * 10).rounded() / 10) }
    return BenchmarkResult(
        bench: "store.allocations", opsPerSecond: median(rates), p50Microseconds: median(withP50), p99Microseconds: p99With,
        target: "echo p99 with the store within 10% of without", met: ratio <= 1.10,
        extra: [
            "p99_without_store_us": rounded(p99Without), "p50_without_store_us": rounded(median(withoutP50)),
            "p99_ratio": .double((ratio * 1000).rounded() / 1000),
            "p99_with_rounds_us": .array(with.map(rounded)), "p99_without_rounds_us": .array(without.map(rounded)),
            "commit_lag_after_last_release_s": .double((median(lags) * 1000).rounded() / 1000),
            "records_per_round": .int(allocationCount),
            "daemon_cpu_us_per_request_with_store": rounded(median(cpuWith) * 1e6),
            "daemon_cpu_us_per_request_without_store": rounded(median(cpuWithout) * 1e6),
        ])
}

/// How many records `store.write` times.
private let writeCount = 50_000

/// The writer's own cost: `StateStore.write` of `writeCount` records like the daemon's
/// (one instrument, a by-name request), in batches of 128, timed per batch. Nothing else runs,
/// so the process's CPU time is the writer's.
private func storeWrite() async throws -> BenchmarkResult {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("labvisor-bench-store-write-\(getpid())")
    defer { try? FileManager.default.removeItem(at: folder) }
    let store = try StateStore(directory: folder.path)
    defer { store.close() }
    let start = Date()
    let records = (0..<(writeCount + 1_280)).map { index in
        StoreRecord.allocation(AllocationRecord(
            leaseID: "L\(index)", holder: "client \(index % 9) (uid 1000 pid 4242)", holderName: "uid 1000 pid 4242", uid: 1000,
            pid: 4242, instruments: ["loopback"], request: .names(["loopback"]), queuedAt: start, startedAt: start,
            releasedAt: start.addingTimeInterval(Double(index) * 1e-3), releaseReason: .released))
    }
    let thread = try WorkerThread("store writer")  // one thread, as the daemon's
    defer { thread.finish() }
    let batches = stride(from: 0, to: records.count, by: 128).map { Array(records[$0..<min($0 + 128, records.count)]) }
    for batch in batches.prefix(10) { try await store.write(batch, on: thread) }  // warm-up: 1,280 records
    var samples = LatencySamples(capacity: batches.count)
    let cpuBefore = processCPUSeconds()
    let began = ContinuousClock.now
    for batch in batches.dropFirst(10) {
        let batchStart = ContinuousClock.now
        try await store.write(batch, on: thread)
        samples.add(ContinuousClock.now - batchStart)
    }
    let seconds = (ContinuousClock.now - began).seconds
    let cpuPerRecord = (processCPUSeconds() - cpuBefore) / Double(writeCount)
    return BenchmarkResult(
        bench: "store.write", opsPerSecond: Double(writeCount) / seconds, p50Microseconds: samples.percentile(0.5),
        p99Microseconds: samples.percentile(0.99), target: "none (explains store.allocations)", met: true,
        extra: ["cpu_us_per_record": .double((cpuPerRecord * 1e7).rounded() / 10), "records_per_batch": .int(128)])
}
