import Foundation
import LabvisorCore
import LabvisorDriverKit
import LabvisorSimulation
import UVCCamera
import UVCCameraSimulator

/// Benchmarks of the uvc-camera driver against its simulator, through the real libusb path
/// under umockdev (usbdevfs ioctls answered in this process).
let cameraBenchmarks: [Benchmark] = [
    Benchmark(
        name: "camera.stream",
        summary: "frames/s and MB/s through the uvc-camera driver (libusb bulk, frame assembly, frame stream) "
            + "for 640x480 GREY and 2048x2048 Y16",
        run: cameraStream),
]

/// One streamed configuration: how long to measure.
private struct CameraShape {
    let format: String
    let width: Int
    let height: Int
    let bytesPerPixel: Int
    let duration: Duration
    var label: String { "\(width)x\(height)_\(format.lowercased())" }
}

private let shapes = [
    CameraShape(format: "GREY", width: 640, height: 480, bytesPerPixel: 1, duration: .seconds(3)),
    CameraShape(format: "Y16", width: 2048, height: 2048, bytesPerPixel: 2, duration: .seconds(5)),
]

/// Needs umockdev's preload library; without it, it runs itself under `umockdev-wrapper`.
@Sendable func cameraStream() async throws -> BenchmarkResult {
    guard hasUmockdevPreload else { return try runUnderUmockdevWrapper("camera.stream") }
    let testbed = try UmockdevTestbed()
    let camera = UVCCameraDevice()
    let device = try SimulatedUSBDevice(
        testbed: testbed, descriptors: camera.descriptors, behavior: camera, kernelDrivers: [0: "uvcvideo", 1: "uvcvideo"])
    let usb = try USBContext()
    let streams = FrameStreams()
    let host = try await DriverHost<UVCCameraDriver>.open(
        instrument: "camera-bench", identity: device.identity, transport: .usb(USBSettings(detachKernelDriver: true)),
        usb: usb, streams: streams)
    let frames = streams.stream(named: UVCCameraDriver.frameStreamName)
    var extra: [String: JSONValue] = ["payload_bytes": .int(camera.payloadSize)]
    var first: (fps: Double, samples: LatencySamples)?
    for shape in shapes {
        _ = try await host.invoke(
            "startStreaming",
            arguments: ["format": .string(shape.format), "width": .int(shape.width), "height": .int(shape.height)],
            timeout: .seconds(10))
        _ = try await frames.next(timeout: .seconds(30))  // warm-up: the first frame
        let droppedBefore = frames.dropped
        var samples = LatencySamples(capacity: 1024)
        var count = 0
        let start = ContinuousClock.now
        var last = start
        while ContinuousClock.now - start < shape.duration {
            guard let frame = try await frames.next(timeout: .seconds(30)) else { break }
            guard frame.bytes.count == shape.width * shape.height * shape.bytesPerPixel else {
                throw LabvisorError(.driverFault, "camera.stream: a frame of \(frame.bytes.count) bytes")
            }
            let now = ContinuousClock.now
            samples.add(now - last)
            last = now
            count += 1
        }
        let seconds = (last - start).seconds
        _ = try await host.invoke("stopStreaming", arguments: [:], timeout: .seconds(10))
        while (try? await frames.next(timeout: .milliseconds(100))) != nil {}
        let fps = Double(count) / seconds
        let megabytes = fps * Double(shape.width * shape.height * shape.bytesPerPixel) / 1e6
        extra["fps_\(shape.label)"] = .double((fps * 10).rounded() / 10)
        extra["mb_per_s_\(shape.label)"] = .double((megabytes * 10).rounded() / 10)
        extra["frames_\(shape.label)"] = .int(count)
        extra["consumer_drops_\(shape.label)"] = .int(frames.dropped - droppedBefore)
        if first == nil { first = (fps, samples) }
    }
    let dropped = try await host.read("droppedFrames", timeout: .seconds(5)).number ?? -1
    extra["dropped_frames"] = .int(Int(dropped))
    try await host.shutdown(timeout: .seconds(5))
    await usb.shutdown()
    withExtendedLifetime(device) {}
    let (fps, samples) = first ?? (0, LatencySamples(capacity: 0))
    return BenchmarkResult(
        bench: "camera.stream", opsPerSecond: fps, p50Microseconds: samples.percentile(0.5),
        p99Microseconds: samples.percentile(0.99),
        target: "measured (the issue sets no number); ops/s and latency are 640x480 GREY frames and their spacing",
        met: dropped == 0, extra: extra)
}
