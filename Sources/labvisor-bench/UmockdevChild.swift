import Foundation
import LabvisorCore

/// Whether umockdev's preload library is loaded in this process.
var hasUmockdevPreload: Bool {
    (ProcessInfo.processInfo.environment["LD_PRELOAD"] ?? "").contains("libumockdev-preload")
}

/// Runs benchmark `name` in a child, `umockdev-wrapper labvisor-bench --json NAME` (with a
/// private TMPDIR), and reads its JSON line: for benchmarks that need a umockdev testbed.
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
        // Numbers come back as numbers (whole ones as ints), text as text.
        if let text = value as? String {
            extra[key] = .string(text)
        } else if let number = value as? Double {
            extra[key] = number == number.rounded() && abs(number) < 1e15 ? .int(Int(number)) : .double(number)
        }
    }
    return BenchmarkResult(
        bench: name, opsPerSecond: object["ops_per_s"] as? Double ?? 0,
        p50Microseconds: object["p50_us"] as? Double ?? 0, p99Microseconds: object["p99_us"] as? Double ?? 0,
        target: object["target"] as? String ?? "", met: object["met"] as? Bool ?? false, extra: extra)
}
