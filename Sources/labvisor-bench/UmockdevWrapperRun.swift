import Foundation
import LabvisorCore

/// Whether this process runs under umockdev's preload library (`umockdev-wrapper`).
var hasUmockdevPreload: Bool {
    (ProcessInfo.processInfo.environment["LD_PRELOAD"] ?? "").contains("libumockdev-preload")
}

/// Runs benchmark `name` in a child, `umockdev-wrapper labvisor-bench --json NAME`, with a
/// private `TMPDIR`, and returns the result it printed (its extra keys included). Used by
/// the benchmarks that need a umockdev testbed when `labvisor-bench` runs plainly.
func runUnderUmockdevWrapper(_ name: String) throws -> BenchmarkResult {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("labvisor-bench-\(UUID())")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: scratch) }
    let child = Process()
    child.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    child.arguments = [
        "umockdev-wrapper", try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"), "--json", name,
    ]
    var environment = ProcessInfo.processInfo.environment
    environment["TMPDIR"] = scratch.path
    child.environment = environment
    let pipe = Pipe()
    child.standardOutput = pipe
    try child.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()  // EOF when the child exits
    child.waitUntilExit()
    let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last { $0.hasPrefix("{") }
    guard child.terminationStatus == 0, let line,
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
    else {
        throw LabvisorError(
            .unavailable, "\(name) under umockdev-wrapper failed (is umockdev installed?)",
            fields: ["exit": .int(Int(child.terminationStatus))])
    }
    let standard: Set<String> = ["bench", "ops_per_s", "p50_us", "p99_us", "target", "met"]
    var extra: [String: JSONValue] = [:]
    for (key, value) in object where !standard.contains(key) {
        switch value {
        case let number as NSNumber:
            extra[key] = number.doubleValue == number.doubleValue.rounded() && abs(number.doubleValue) < 1e15
                ? .int(number.intValue) : .double(number.doubleValue)
        case let text as String: extra[key] = .string(text)
        default: continue
        }
    }
    return BenchmarkResult(
        bench: name, opsPerSecond: object["ops_per_s"] as? Double ?? 0,
        p50Microseconds: object["p50_us"] as? Double ?? 0, p99Microseconds: object["p99_us"] as? Double ?? 0,
        target: object["target"] as? String ?? "", met: object["met"] as? Bool ?? false, extra: extra)
}
