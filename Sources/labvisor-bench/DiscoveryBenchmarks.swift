import Foundation
import LabvisorCore
import LabvisorHardware
import LabvisorSimulation

/// Benchmarks of udev discovery, run against a umockdev testbed (no hardware needed).
let discoveryBenchmarks: [Benchmark] = [
    Benchmark(
        name: "discovery.hotplug",
        summary: "synthesized add uevents of a USB-serial device until its grouped identity is delivered, minus the settle window",
        run: discoveryHotplug),
]

/// The settle window the benchmark runs with (the default), subtracted from each sample.
private let benchSettleWindow = DiscoveryConfiguration().settleWindow
private let iterations = 100
/// Needs umockdev's preload library. Without it (a plain `labvisor-bench` run) it runs itself
/// again as `umockdev-wrapper labvisor-bench --json discovery.hotplug` and reads that result.
@Sendable func discoveryHotplug() async throws -> BenchmarkResult {
    let preload = ProcessInfo.processInfo.environment["LD_PRELOAD"] ?? ""
    guard preload.contains("libumockdev-preload") else { return try runUnderUmockdevWrapper() }

    let testbed = try UmockdevTestbed()
    try testbed.add(MockUSBRecords.ftdi)
    let (device, interface, tty) = (
        "/sys" + MockUSBRecords.ftdiPath, "/sys" + MockUSBRecords.ftdiInterfacePath, "/sys" + MockUSBRecords.ftdiTTYPath
    )
    let discovery = UdevDiscovery()
    let runner = Task { try await discovery.run() }
    let watchdog = Task {
        try await Task.sleep(for: .seconds(120))
        runner.cancel()  // ends the stream: the loop below then throws instead of hanging
    }
    defer {
        watchdog.cancel()
        runner.cancel()
    }
    var iterator = discovery.events.makeAsyncIterator()
    func next() async throws -> DiscoveryEvent {
        guard let event = await iterator.next() else { throw LabvisorError(.timeout, "discovery.hotplug stalled") }
        return event
    }
    while try await next() != .coldplugComplete {}

    var samples = LatencySamples(capacity: iterations)
    let start = ContinuousClock.now
    for _ in 0..<iterations {
        testbed.uevent(tty, "remove")
        testbed.uevent(interface, "remove")
        testbed.uevent(device, "remove")
        guard case .removed = try await next() else { throw LabvisorError(.driverFault, "expected removed") }
        testbed.uevent(device, "add")
        testbed.uevent(interface, "add")
        let sent = ContinuousClock.now  // the last uevent of the device: its settle window starts here
        testbed.uevent(tty, "add")
        guard case .reattached = try await next() else { throw LabvisorError(.driverFault, "expected reattached") }
        samples.add(ContinuousClock.now - sent - benchSettleWindow)
    }
    let seconds = (ContinuousClock.now - start).seconds
    let p50 = samples.percentile(0.5)
    return BenchmarkResult(
        bench: "discovery.hotplug", opsPerSecond: Double(iterations) / seconds, p50Microseconds: p50,
        p99Microseconds: samples.percentile(0.99), target: "p50 <= 5000 us beyond the settle window", met: p50 <= 5000,
        extra: [
            "settle_window_ms": .int(Int(benchSettleWindow.components.seconds * 1000
                + benchSettleWindow.components.attoseconds / 1_000_000_000_000_000)),
            "iterations": .int(iterations),
        ])
}

/// Runs `discovery.hotplug` in a child under `umockdev-wrapper` and parses its JSON line.
private func runUnderUmockdevWrapper() throws -> BenchmarkResult {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("labvisor-bench-\(UUID())")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: scratch) }
    let child = Process()
    child.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    child.arguments = [
        "umockdev-wrapper", try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"), "--json",
        "discovery.hotplug",
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
            .unavailable, "discovery.hotplug under umockdev-wrapper failed (is umockdev installed?)",
            fields: ["exit": .int(Int(child.terminationStatus))])
    }
    var extra: [String: JSONValue] = [:]
    for key in ["settle_window_ms", "iterations"] { extra[key] = .int(object[key] as? Int ?? 0) }
    return BenchmarkResult(
        bench: "discovery.hotplug", opsPerSecond: object["ops_per_s"] as? Double ?? 0,
        p50Microseconds: object["p50_us"] as? Double ?? 0, p99Microseconds: object["p99_us"] as? Double ?? 0,
        target: object["target"] as? String ?? "", met: object["met"] as? Bool ?? false, extra: extra)
}
