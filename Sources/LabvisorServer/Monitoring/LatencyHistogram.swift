/// A latency histogram with fixed buckets whose recording takes no lock: one atomic add for
/// the bucket, one for the sum. Rendered as a Prometheus `histogram` (cumulative buckets);
/// the count is the sum of the buckets read, so `+Inf` and `_count` always agree.
final class LatencyHistogram: Sendable {
    /// Upper bounds in seconds, from 50 µs (a no-op call over the unix socket) to 30 s.
    static let bounds: [Double] = [
        0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
    ]

    private let buckets = (0...LatencyHistogram.bounds.count).map { _ in AtomicCount() }  // the last: above every bound
    private let sumNanoseconds = AtomicCount()

    /// Records one duration.
    func record(_ duration: Duration) {
        let seconds = duration.seconds
        let index = Self.bounds.firstIndex { seconds <= $0 } ?? Self.bounds.count
        buckets[index].add()
        sumNanoseconds.add(Int(clamping: duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000))
    }

    /// The Prometheus sample lines (`_bucket`, `_sum`, `_count`) for `name` with `labels`
    /// (rendered, without braces, e.g. `method="invoke"`).
    func samples(_ name: String, labels: String) -> String {
        var lines = ""
        var cumulative = 0
        for (index, bound) in Self.bounds.enumerated() {
            cumulative += buckets[index].current
            lines += "\(name)_bucket{\(labels),le=\"\(bound)\"} \(cumulative)\n"
        }
        cumulative += buckets[Self.bounds.count].current
        lines += "\(name)_bucket{\(labels),le=\"+Inf\"} \(cumulative)\n"
        lines += "\(name)_sum{\(labels)} \(Double(sumNanoseconds.current) / 1e9)\n"
        lines += "\(name)_count{\(labels)} \(cumulative)\n"
        return lines
    }
}
