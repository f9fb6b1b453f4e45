/// A named benchmark that `labvisor-bench` can run.
struct Benchmark: Sendable {
    /// Its name on the command line and in the output.
    let name: String
    /// What it measures, one line.
    let summary: String
    /// Runs it and returns its numbers.
    let run: @Sendable () async throws -> BenchmarkResult
}

/// Every benchmark, in the order they run. Later issues append theirs.
let allBenchmarks: [Benchmark] =
    coreBenchmarks + serialBenchmarks + discoveryBenchmarks + usbBenchmarks + zaberBenchmarks + cameraBenchmarks
        + wireBenchmarks + storeBenchmarks + opsBenchmarks
