import Foundation
import LabvisorCore
import LabvisorHardware
import LabvisorSimulation

#if canImport(Glibc)
    import Glibc
#endif

/// Benchmarks of the USB layer, through the real libusb code against a simulated device in
/// a umockdev testbed (no hardware needed).
let usbBenchmarks: [Benchmark] = [
    Benchmark(
        name: "usb.bulk",
        summary: "bulk IN throughput (MB/s) through USBBulkStream, 4 transfers in flight, 16-512 KiB transfers, under umockdev",
        run: usbBulk)
]

/// Transfer sizes measured; the headline numbers (ops/s, p50, p99) are those of `headlineSize`.
private let transferSizes = [16 << 10, 64 << 10, 256 << 10, 512 << 10]
private let headlineSize = 64 << 10
/// Bytes read per size (after 16 warm-up payloads), at least 200 payloads.
private let bytesPerSize = 64 << 20

/// Needs umockdev's preload library; a plain run re-runs itself under `umockdev-wrapper`.
@Sendable func usbBulk() async throws -> BenchmarkResult {
    guard hasUmockdevPreload else { return try runUnderUmockdevWrapper("usb.bulk") }
    let testbed = try UmockdevTestbed()
    var extra: [String: JSONValue] = ["transfers_in_flight": .int(4)]
    var headline: (payloadsPerSecond: Double, samples: LatencySamples)?
    // One device per size (the pattern source has a fixed payload length), at successive addresses.
    for (index, size) in transferSizes.enumerated() {
        let behavior = USBPatternStreamBehavior(endpoint: 0x81, payloadLength: size)
        let descriptors = SimulatedUSBDescriptors(
            vendorID: 0x2939, productID: 0x0002, product: "Bulk Source",
            configuration: USBConfigurationInfo(interfaces: [
                USBInterfaceInfo(
                    number: 0,
                    alternateSettings: [
                        USBAlternateSetting(
                            interfaceNumber: 0, interfaceClass: 0xff,
                            endpoints: [USBEndpointInfo(address: 0x81, transferType: .bulk, maxPacketSize: 512)])
                    ])
            ]))
        let address = UInt8(10 + index)
        let device = try SimulatedUSBDevice(
            testbed: testbed, descriptors: descriptors, behavior: behavior, address: address, port: address)
        let context = try USBContext()
        let handle = try context.open(bus: 1, address: address)
        try handle.claim(interface: 0)
        let stream = try USBBulkStream(
            device: handle, endpoint: 0x81, configuration: .init(transferSize: size, transfersInFlight: 4, bufferLimit: 64))
        try stream.start()
        for _ in 0..<16 { _ = try await stream.next(timeout: .seconds(5)) }

        let payloads = max(200, bytesPerSize / size)
        var samples = LatencySamples(capacity: payloads)
        let usageBefore = processCPUSeconds()
        let start = ContinuousClock.now
        var last = start
        var bytes = 0
        for _ in 0..<payloads {
            guard let payload = try await stream.next(timeout: .seconds(5)) else {
                throw LabvisorError(.driverFault, "usb.bulk: the stream ended early")
            }
            bytes += payload.count
            let now = ContinuousClock.now
            samples.add(now - last)
            last = now
        }
        let seconds = (ContinuousClock.now - start).seconds
        let cpu = processCPUSeconds() - usageBefore
        await stream.stop()
        try await handle.close()
        await context.shutdown()
        let kib = size >> 10
        extra["mb_per_s_\(kib)k"] = .double((Double(bytes) / seconds / 1e6 * 10).rounded() / 10)
        extra["cpu_percent_\(kib)k"] = .int(Int((cpu / seconds * 100).rounded()))
        extra["dropped_\(kib)k"] = .int(stream.dropped)
        if size == headlineSize { headline = (Double(payloads) / seconds, samples) }
        _ = device
    }
    guard let headline else { throw LabvisorError(.driverFault, "usb.bulk: no headline size measured") }
    return BenchmarkResult(
        bench: "usb.bulk", opsPerSecond: headline.payloadsPerSecond, p50Microseconds: headline.samples.percentile(0.5),
        p99Microseconds: headline.samples.percentile(0.99),
        target: "none set (measure MB/s); ops/s, p50, p99: 64 KiB payloads", met: true, extra: extra)
}

