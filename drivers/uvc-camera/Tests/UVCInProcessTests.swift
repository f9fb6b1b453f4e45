import Foundation
import LabvisorDriverKit
import LabvisorSimulation
import Testing
import UVCCamera
import UVCCameraSimulator

/// The driver against the simulated camera served in-process (`InProcessUSBDevice`, as
/// `labvisord --demo` runs it): no libusb, no umockdev, the same driver code.
@Suite(.timeLimit(.minutes(2)))
struct UVCInProcessTests {
    static let call: Duration = .seconds(5)

    func open(_ camera: UVCCameraDevice, streams: FrameStreams) async throws -> DriverHost<UVCCameraDriver> {
        let transport = try CameraRig.manifest().transport
        guard case .usb(let settings) = transport else { throw LabvisorError(.driverFault, "the manifest's transport is not usb") }
        let device = InProcessUSBDevice(descriptors: camera.descriptors, behavior: camera)
        return try await DriverHost<UVCCameraDriver>.open(
            DriverContext(instrument: "camera-1", connection: .usb(device, settings), streams: streams))
    }

    @Test func streamsByteExactFramesAndControlsExposure() async throws {
        let camera = UVCCameraDevice()
        let streams = FrameStreams()
        let host = try await open(camera, streams: streams)
        #expect(host.identification.serialNumber == "UVC-0001")
        let rate = try await host.invoke(
            "startStreaming", arguments: ["format": "GREY", "width": 640, "height": 480], timeout: Self.call)
        #expect(abs((rate.number ?? 0) - 30) < 0.01, "the default interval of 640x480 GREY: \(rate)")
        let committed = try #require(camera.committedFormat)
        let frames = streams.stream(named: UVCCameraDriver.frameStreamName)
        var previous: DataFrame?
        for _ in 0..<5 {
            let frame = try #require(try await frames.next(timeout: .seconds(10)))
            let number = frameNumber(frame, interval: committed.intervals[0])
            #expect(frame.bytes == committed.expectedFrame(number), "frame \(number) differs")
            if let previous { #expect(frame.sequence > previous.sequence) }
            previous = frame
        }
        try await host.write("exposure", value: 2500, timeout: Self.call)
        #expect(try await host.read("exposure", timeout: Self.call).number == 2500)
        let outside = await #expect(throws: LabvisorError.self) { try await host.write("exposure", value: 5e6, timeout: Self.call) }
        #expect(outside?.fields["argument"] == "exposure")
        _ = try await host.invoke("stopStreaming", arguments: [:], timeout: Self.call)
        #expect(try await host.read("streaming", timeout: Self.call) == false)
        #expect(try await host.read("droppedFrames", timeout: Self.call) == 0)
        try await host.shutdown(timeout: .seconds(5))
    }

    @Test func aStalledEndpointEndsTheStreamWithTheError() async throws {
        let camera = UVCCameraDevice()
        camera.inject(.stall(frame: 1, payload: 0))
        let streams = FrameStreams()
        let host = try await open(camera, streams: streams)
        _ = try await host.invoke("startStreaming", arguments: ["format": "GREY", "width": 640, "height": 480], timeout: Self.call)
        let frames = streams.stream(named: UVCCameraDriver.frameStreamName)
        let ended = await #expect(throws: LabvisorError.self) {
            while try await frames.next(timeout: .seconds(10)) != nil {}
        }
        #expect(ended?.code == .driverFault)
        #expect(ended?.fields["reason"] == "stall")
        try await host.shutdown(timeout: .seconds(5))
    }
}
