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
    guard hasUmockdevPreload else { return try runUnderUmockdevWrapper("discovery.hotplug") }

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
