import ArgumentParser
import Foundation

/// `labvisor-bench [--json] [NAME ...]`: runs all or the named benchmarks and prints a table,
/// or one JSON object per line with `--json`. Build it in release mode:
/// `swift run -c release labvisor-bench`.
@main
struct LabvisorBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "labvisor-bench",
        abstract: "Runs Labvisor's benchmarks.",
        discussion: "Benchmarks: " + allBenchmarks.map(\.name).joined(separator: ", "))

    @Flag(help: "Print one JSON object per result instead of a table.")
    var json = false

    @Flag(help: "List the benchmarks and exit.")
    var list = false

    @Argument(help: "Benchmarks to run (a name or a prefix such as 'lease'); all when none is given.")
    var names: [String] = []

    func validate() throws {
        for name in names where !allBenchmarks.contains(where: { $0.name == name || $0.name.hasPrefix(name + ".") }) {
            throw ValidationError("unknown benchmark '\(name)'; known: \(allBenchmarks.map(\.name).joined(separator: ", "))")
        }
    }

    func run() async throws {
        if list {
            for benchmark in allBenchmarks { print("\(benchmark.name)\t\(benchmark.summary)") }
            return
        }
        let selected = allBenchmarks.filter { benchmark in
            names.isEmpty || names.contains { benchmark.name == $0 || benchmark.name.hasPrefix($0 + ".") }
        }
        #if DEBUG
            FileHandle.standardError.write(Data("warning: debug build; numbers mean little. Use: swift run -c release labvisor-bench\n".utf8))
        #endif
        var results: [BenchmarkResult] = []
        for benchmark in selected {
            let result = try await benchmark.run()
            if json {
                print(result.jsonLine)
            } else {
                FileHandle.standardError.write(Data("done: \(benchmark.name)\n".utf8))
            }
            results.append(result)
        }
        if !json { print(Self.table(results)) }
    }

    static func table(_ results: [BenchmarkResult]) -> String {
        let header = ["benchmark", "ops/s", "p50 us", "p99 us", "target", "met"]
        let rows = results.map { result in
            [
                result.bench, String(Int(result.opsPerSecond.rounded())), format(result.p50Microseconds),
                format(result.p99Microseconds), result.target, result.met ? "yes" : "NO",
            ]
        }
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max()! }
        func line(_ cells: [String]) -> String {
            zip(cells, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
        }
        var lines = [line(header), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")]
        lines += rows.map(line)
        for result in results where !result.extra.isEmpty {
            lines.append("  \(result.bench): " + result.extra.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
        }
        return lines.joined(separator: "\n")
    }

    static func format(_ value: Double) -> String {
        value >= 100 ? String(Int(value.rounded())) : String((value * 100).rounded() / 100)
    }
}
