import CLibUVCCheck
import Foundation
import LabvisorDriverTesting
import LabvisorSimulation
import Testing
import UVCCameraSimulator

/// The simulated camera satisfies libuvc, an independent UVC host implementation over libusb
/// (Debian `libuvc-dev` 0.0.6, installed by scripts/setup.sh; without it the package does not
/// build). `vendor-check/libuvc_check.c` (the C target `CLibUVCCheck`) finds the camera, opens
/// it, parses its descriptors, negotiates, streams with libuvc's own threads (100 transfers of
/// `dwMaxPayloadTransferSize`, 800 URBs, submitted while completed ones are resubmitted) and
/// checks every frame's size, shape and test pattern on its own, then stops and closes. Each
/// format is a test, run in this process under `umockdev-wrapper` (`UmockdevReexec`), where
/// the testbed is.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct LibUVCCrossCheckTests {
    static let suite = "LibUVCCrossCheckTests"
    /// How long libuvc may take for its frames (the umockdev child is killed after
    /// `UmockdevReexec.childTimeLimit`, which also bounds libuvc's unbounded stop).
    static let frameTimeLimit: Int32 = 30

    @Test func libuvcStreamsGrey640x480() async throws {
        try await check(format: "gray8", fourCC: "Y800", width: 640, height: 480, fps: 30, frames: 8)
    }

    @Test func libuvcStreamsYUY2640x480() async throws {
        try await check(format: "yuyv", fourCC: "YUY2", width: 640, height: 480, fps: 30, frames: 4)
    }

    @Test func libuvcStreamsY16At2048x2048() async throws {
        try await check(format: "gray16", fourCC: "Y16 ", width: 2048, height: 2048, fps: 10, frames: 2)
    }

    @Test func libuvcStreamsGrey2048x2048() async throws {
        try await check(format: "gray8", fourCC: "Y800", width: 2048, height: 2048, fps: 5, frames: 3)
    }

    /// Streams `frames` frames of one format with libuvc and checks what it negotiated against
    /// the simulator's model.
    private func check(
        format: String, fourCC: String, width: Int, height: Int, fps: Int, frames: Int, test: String = #function,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        guard try await UmockdevReexec.runHere(suite: Self.suite, test: test, sourceLocation: sourceLocation) else { return }
        let rig = try CameraRig()
        let vendorID = Int32(rig.camera.descriptors.vendorID)
        let productID = Int32(rig.camera.descriptors.productID)
        // Blocking C code (it waits for its frames, then for libuvc to stop): on a thread of
        // its own, off the cooperative pool.
        let (status, result) = await Self.onThread {
            var result = libuvc_check_result()
            let status = libuvc_check_stream(
                vendorID, productID, format, Int32(width), Int32(height), Int32(fps), Int32(frames), Self.frameTimeLimit,
                &result)
            return (status, result)
        }
        let problem = withUnsafeBytes(of: result.problem) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        #expect(status == 0, "libuvc \(format) \(width)x\(height): \(problem)", sourceLocation: sourceLocation)
        #expect(result.frames == Int32(frames), sourceLocation: sourceLocation)
        #expect(result.bad_frames == 0, "\(problem)", sourceLocation: sourceLocation)
        let committed = try #require(rig.camera.committedFormat, "libuvc committed a format", sourceLocation: sourceLocation)
        #expect(committed.fourCC == fourCC && committed.width == width && committed.height == height, sourceLocation: sourceLocation)
        #expect(result.frame_size == UInt32(committed.frameSize), sourceLocation: sourceLocation)
        #expect(result.payload_size == UInt32(rig.camera.payloadSize), sourceLocation: sourceLocation)
        #expect(result.frame_interval == UInt32(10_000_000 / fps), sourceLocation: sourceLocation)
        #expect(rig.camera.withState { $0.framesSent } >= Int(result.last_sequence), sourceLocation: sourceLocation)
        #expect(rig.device.pendingInRequests == 0, "libuvc's stop cancelled every transfer", sourceLocation: sourceLocation)
        #expect(rig.device.claimedInterfaces.isEmpty, sourceLocation: sourceLocation)
        #expect(
            rig.device.kernelDrivers == [0: "uvcvideo", 1: "uvcvideo"], "libuvc gave the interfaces back to uvcvideo",
            sourceLocation: sourceLocation)
        await rig.usb.shutdown()
    }

    /// Runs `body` on a thread of its own and waits for it.
    private static func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: body()) }.start()
        }
    }
}
