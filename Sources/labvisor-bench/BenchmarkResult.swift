import LabvisorCore

/// One benchmark's numbers: throughput, latency percentiles, and anything else it measured.
struct BenchmarkResult: Sendable {
    /// The benchmark's name (`lease.acquire-release`).
    var bench: String
    /// Operations per second over the timed loop.
    var opsPerSecond: Double
    /// Median latency of one operation, microseconds.
    var p50Microseconds: Double
    /// 99th percentile latency, microseconds.
    var p99Microseconds: Double
    /// The target from the issue, as text ("p50 <= 2 us").
    var target: String
    /// Whether the target was met.
    var met: Bool
    /// Other measured values.
    var extra: [String: JSONValue] = [:]

    /// One line of JSON: `{"bench": NAME, "ops_per_s": N, "p50_us": N, "p99_us": N, ...}`.
    var jsonLine: String {
        var object: [String: JSONValue] = extra
        object["bench"] = .string(bench)
        object["ops_per_s"] = .double(opsPerSecond.rounded())
        object["p50_us"] = .double((p50Microseconds * 1000).rounded() / 1000)
        object["p99_us"] = .double((p99Microseconds * 1000).rounded() / 1000)
        object["target"] = .string(target)
        object["met"] = .bool(met)
        return JSONValue.object(object).description
    }
}

/// Latency samples of one benchmark.
struct LatencySamples {
    private(set) var nanoseconds: [Int64] = []

    init(capacity: Int) { nanoseconds.reserveCapacity(capacity) }

    mutating func add(_ duration: Duration) {
        nanoseconds.append(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }

    mutating func append(contentsOf other: LatencySamples) { nanoseconds += other.nanoseconds }

    /// The `fraction` percentile in microseconds (0.5 = median).
    func percentile(_ fraction: Double) -> Double {
        guard !nanoseconds.isEmpty else { return 0 }
        let sorted = nanoseconds.sorted()
        let index = min(sorted.count - 1, Int((Double(sorted.count) * fraction).rounded(.down)))
        return Double(sorted[index]) / 1000
    }
}
