import Foundation
import LabvisorDriverKit
import LabvisorSimulation
import Testing
import UVCCamera
import UVCCameraSimulator

/// A umockdev testbed with the simulated camera plugged in (uvcvideo bound to both of its
/// interfaces, as the kernel would), a libusb context, and the frame streams a driver
/// host publishes into. Not `Sendable`, like the testbed: used from the test's task.
final class CameraRig {
    let testbed: UmockdevTestbed
    let camera: UVCCameraDevice
    let device: SimulatedUSBDevice
    let usb: USBContext
    let streams = FrameStreams()

    init(camera: UVCCameraDevice = UVCCameraDevice()) throws {
        testbed = try UmockdevTestbed()
        self.camera = camera
        device = try SimulatedUSBDevice(
            testbed: testbed, descriptors: camera.descriptors, behavior: camera, bus: 1, address: 7, port: 3,
            kernelDrivers: [0: "uvcvideo", 1: "uvcvideo"])
        usb = try USBContext()
    }

    /// The manifest in this driver's folder, parsed as the daemon parses it.
    static func manifest() throws -> DriverManifest {
        let file = driverFolder.appendingPathComponent("driver.toml").path
        return try DriverManifestParser.parse(try String(contentsOfFile: file, encoding: .utf8), file: file)
    }

    /// drivers/uvc-camera/.
    static var driverFolder: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    }

    /// Opens the driver on the camera the way the daemon does: from the identity discovery reports.
    func open() async throws -> DriverHost<UVCCameraDriver> {
        try await DriverHost<UVCCameraDriver>.open(
            instrument: "camera-1", identity: device.identity, transport: try Self.manifest().transport, usb: usb,
            streams: streams)
    }

    /// The stream frames are published on.
    var frames: FrameStream { streams.stream(named: UVCCameraDriver.frameStreamName) }

    /// Runs `body` with the driver open; shuts the host and the context down afterwards.
    func withHost(_ body: (DriverHost<UVCCameraDriver>) async throws -> Void) async throws {
        let host = try await open()
        do {
            try await body(host)
        } catch {
            try? await host.shutdown(timeout: .seconds(5))
            await usb.shutdown()
            throw error
        }
        try await host.shutdown(timeout: .seconds(5))
        await usb.shutdown()
    }
}

/// The camera's frame number of a frame, from its presentation time stamp (frame number ×
/// frame interval in 100 ns ticks).
func frameNumber(_ frame: DataFrame, interval: UInt32) -> Int {
    Int(frame.deviceTime ?? 0) / Int(interval)
}

