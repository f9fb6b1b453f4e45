import LabvisorDriverTesting
import Foundation
import LabvisorDriverKit
import LabvisorSimulation
import Testing
import UVCCamera
import UVCCameraSimulator

/// The driver against the simulated camera through the real libusb code under umockdev:
/// each test re-runs itself under `umockdev-wrapper` (`UmockdevReexec`).
@Suite(.serialized, .timeLimit(.minutes(2)))
struct UVCCameraTests {
    static let suite = "UVCCameraTests"
    static let call: Duration = .seconds(5)

    @Test func identifiesTheCameraAndDetachesUVCVideoWhileOpen() async throws {
        guard try await UmockdevReexec.runHere(suite: Self.suite) else { return }
        let rig = try CameraRig()
        try await rig.withHost { host in
            #expect(host.identification.model == "UVC Test Camera")
            #expect(host.identification.serialNumber == "UVC-0001")
            #expect(host.identification.details["usbID"] == "1d6b:0102")
            #expect(host.identification.details["uvcVersion"] == "1.10")
            #expect(rig.device.kernelDrivers.isEmpty, "the manifest asks to detach uvcvideo")
            #expect(rig.device.claimedInterfaces == [0, 1])
            let formats = try await host.read("formats", timeout: Self.call)
            #expect(formats.array?.compactMap { $0.object?["format"]?.string } == ["GREY", "Y16", "YUY2"])
        }
        #expect(rig.device.claimedInterfaces.isEmpty)
        #expect(rig.device.kernelDrivers == [0: "uvcvideo", 1: "uvcvideo"], "released interfaces get uvcvideo back")
    }

    @Test func negotiatesWithProbeAndCommit() async throws {
        guard try await UmockdevReexec.runHere(suite: Self.suite) else { return }
        let rig = try CameraRig()
        try await rig.withHost { host in
            let fps = try await host.invoke(
                "startStreaming", arguments: ["format": "Y16", "width": 2048, "height": 2048, "fps": 4], timeout: Self.call)
            #expect(fps == .double(5), "4 Hz is closest to the camera's 5 Hz")
            #expect(rig.camera.withState { $0.negotiation } == [false, true], "SET_CUR probe, then SET_CUR commit")
            let probes = rig.device.controlRequests.filter { $0.requestType & 0x60 == 0x20 }
            #expect(
                probes.map { [Int($0.requestType), Int($0.request), Int($0.value), Int($0.index), Int($0.length)] } == [
                    [0x21, 0x01, 0x0100, 1, 34], [0xa1, 0x81, 0x0100, 1, 34], [0x21, 0x01, 0x0200, 1, 34],
                ])
            let committed = try #require(rig.camera.committedFormat)
            #expect(committed.fourCC == "Y16 " && committed.width == 2048)
            let control = try #require(await host.driver.committed)
            #expect(control.frameInterval == 2_000_000 && control.maxVideoFrameSize == 2048 * 2048 * 2)
            #expect(control.maxPayloadTransferSize == UInt32(rig.camera.payloadSize))
            #expect(try await host.read("streaming", timeout: Self.call) == true)
            _ = try await host.invoke("stopStreaming", arguments: [:], timeout: Self.call)
            #expect(try await host.read("streaming", timeout: Self.call) == false)

            let size = await thrownError {
                try await host.invoke("startStreaming", arguments: ["format": "YUY2", "width": 2048, "height": 2048], timeout: Self.call)
            }
            #expect(size?.code == .invalidArgument && size?.fields["argument"] == "width")
            let format = await thrownError {
                try await host.invoke("startStreaming", arguments: ["format": "MJPG", "width": 640, "height": 480], timeout: Self.call)
            }
            #expect(format?.code == .invalidArgument && format?.fields["argument"] == "format")
            let width = await thrownError {
                try await host.invoke("startStreaming", arguments: ["format": "GREY", "width": "wide", "height": 480], timeout: Self.call)
            }
            #expect(width?.code == .invalidArgument && width?.fields["argument"] == "width")
            #expect(rig.camera.withState { $0.negotiation }.count == 2, "rejected calls never reach the camera")
        }
    }

    @Test func exposureFollowsTheCameraTerminalAndItsRange() async throws {
        guard try await UmockdevReexec.runHere(suite: Self.suite) else { return }
        let rig = try CameraRig()
        try await rig.withHost { host in
            #expect(try await host.read("exposure", timeout: Self.call) == .double(16_600))
            #expect(try await host.read("exposureRange", timeout: Self.call) == ["minimum": 100.0, "maximum": 1_000_000.0])
            #expect(try await host.read("autoExposure", timeout: Self.call) == true)

            try await host.write("exposure", value: 5_000, timeout: Self.call)
            #expect(rig.camera.withState { ($0.exposure, $0.autoExposureMode) } == (50, 0x01), "manual mode, 50 × 100 µs")
            #expect(try await host.read("exposure", timeout: Self.call) == .double(5_000))
            #expect(try await host.read("autoExposure", timeout: Self.call) == false)

            let before = rig.device.controlRequests.filter { $0.request == 0x01 }.count
            let tooLong = await thrownError { try await host.write("exposure", value: 2_000_000, timeout: Self.call) }
            #expect(tooLong?.code == .invalidArgument && tooLong?.fields["argument"] == "exposure")
            let wrongType = await thrownError { try await host.write("exposure", value: "long", timeout: Self.call) }
            #expect(wrongType?.code == .invalidArgument && wrongType?.fields["argument"] == "exposure")
            #expect(rig.device.controlRequests.filter { $0.request == 0x01 }.count == before, "no SET_CUR for rejected values")
            #expect(rig.camera.withState { $0.exposure } == 50)

            try await host.write("autoExposure", value: true, timeout: Self.call)
            #expect(rig.camera.withState { $0.autoExposureMode } == 0x08, "aperture priority: the camera has no full auto mode")
            #expect(try await host.read("autoExposure", timeout: Self.call) == true)
        }
    }

    /// Reads `count` frames of a stream started with `format`, checking each byte for byte.
    func streamFrames(
        _ host: DriverHost<UVCCameraDriver>, _ rig: CameraRig, format: String, width: Int, height: Int, count: Int,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> [DataFrame] {
        _ = try await host.invoke(
            "startStreaming", arguments: ["format": .string(format), "width": .int(width), "height": .int(height)],
            timeout: Self.call)
        let committed = try #require(rig.camera.committedFormat)
        let interval = committed.intervals[0]
        var frames: [DataFrame] = []
        while frames.count < count {
            let frame = try #require(try await rig.frames.next(timeout: .seconds(10)))
            let number = frameNumber(frame, interval: interval)
            #expect(frame.format == format && frame.width == width && frame.height == height, sourceLocation: sourceLocation)
            #expect(sameBytes(frame.bytes, committed.expectedFrame(number)), "frame \(number) differs", sourceLocation: sourceLocation)
            if let last = frames.last {
                #expect(frame.sequence > last.sequence, sourceLocation: sourceLocation)
                #expect(frame.time >= last.time, sourceLocation: sourceLocation)
            }
            frames.append(frame)
        }
        _ = try await host.invoke("stopStreaming", arguments: [:], timeout: Self.call)
        // Frames the camera sent between the last one read and the stop stay on the shared
        // `frames` stream (no more come once stopStreaming returns): the next format's reads
        // must not take them for its own.
        while rig.frames.buffered > 0 { _ = try await rig.frames.next(timeout: .seconds(1)) }
        return frames
    }

    @Test func streamsFramesByteExactInEveryFormat() async throws {
        guard try await UmockdevReexec.runHere(suite: Self.suite) else { return }
        let rig = try CameraRig()
        try await rig.withHost { host in
            // Few frames of each: under ThreadSanitizer every 16 KiB URB through umockdev is slow,
            // and one 8 MiB Y16 frame is 512 of them.
            let grey = try await streamFrames(host, rig, format: "GREY", width: 640, height: 480, count: 4)
            #expect(grey.map { frameNumber($0, interval: 333_333) } == Array(0..<4) || rig.frames.dropped > 0)
            _ = try await streamFrames(host, rig, format: "YUY2", width: 640, height: 480, count: 2)
            _ = try await streamFrames(host, rig, format: "Y16", width: 2048, height: 2048, count: 1)
            #expect(try await host.read("droppedFrames", timeout: Self.call) == 0)
            #expect(try await host.read("corruptPayloads", timeout: Self.call) == 0)
            let delivered = try #require(try await host.read("frameCount", timeout: Self.call).number)
            #expect(Int(delivered) >= 7)
        }
    }

    @Test func corruptOrMissingPayloadsAreCountedAndNeverDelivered() async throws {
        guard try await UmockdevReexec.runHere(suite: Self.suite) else { return }
        let rig = try CameraRig()
        // 640x480 GREY: 3 payloads a frame (128 KiB each at most).
        rig.camera.inject(
            .errorBit(frame: 1, payload: 1), .truncate(frame: 3, payload: 0), .drop(frame: 4, payload: 2),
            .badHeader(frame: 6, payload: 1))
        try await rig.withHost { host in
            _ = try await host.invoke(
                "startStreaming", arguments: ["format": "GREY", "width": 640, "height": 480], timeout: Self.call)
            let committed = try #require(rig.camera.committedFormat)
            var numbers: [Int] = []
            while numbers.count < 5 {
                let frame = try #require(try await rig.frames.next(timeout: .seconds(10)))
                let number = frameNumber(frame, interval: 333_333)
                #expect(sameBytes(frame.bytes, committed.expectedFrame(number)), "frame \(number) is whole")
                numbers.append(number)
            }
            _ = try await host.invoke("stopStreaming", arguments: [:], timeout: Self.call)
            #expect(numbers == [0, 2, 5, 7, 8] || rig.frames.dropped > 0, "frames 1, 3, 4 and 6 were spoiled")
            #expect(!numbers.contains { [1, 3, 4, 6].contains($0) })
            #expect(try await host.read("droppedFrames", timeout: Self.call) == 4)
            #expect(try await host.read("corruptPayloads", timeout: Self.call) == 2, "the error bit and the bad header")
            #expect(try await host.read("lostPayloads", timeout: Self.call) == 0)
        }
    }

    @Test func unplugMidStreamEndsTheStreamWithDeviceGone() async throws {
        guard try await UmockdevReexec.runHere(suite: Self.suite) else { return }
        let rig = try CameraRig()
        let host = try await rig.open()
        _ = try await host.invoke("startStreaming", arguments: ["format": "GREY", "width": 640, "height": 480], timeout: Self.call)
        _ = try #require(try await rig.frames.next(timeout: .seconds(10)))
        rig.device.unplug()
        var error: LabvisorError?
        while error == nil {
            do {
                // Frames from before the unplug, then the error.
                guard try await rig.frames.next(timeout: .seconds(10)) != nil else {
                    Issue.record("the frame stream ended without an error")
                    break
                }
            } catch let thrown {
                error = thrown
            }
        }
        #expect(error?.code == .deviceGone)
        #expect(try await host.read("streaming", timeout: Self.call) == false)
        let exposure = await thrownError { try await host.read("exposure", timeout: Self.call) }
        #expect(exposure?.code == .deviceGone)
        try await host.shutdown(timeout: .seconds(5))
        await rig.usb.shutdown()
    }

    @Test func stopStreamingIsImmediateAndLeavesNoTransfer() async throws {
        guard try await UmockdevReexec.runHere(suite: Self.suite) else { return }
        let rig = try CameraRig()
        try await rig.withHost { host in
            _ = try await host.invoke(
                "startStreaming", arguments: ["format": "Y16", "width": 2048, "height": 2048], timeout: Self.call)
            _ = try #require(try await rig.frames.next(timeout: .seconds(10)))
            let started = ContinuousClock.now
            _ = try await host.invoke("stopStreaming", arguments: [:], timeout: Self.call)
            #expect(ContinuousClock.now - started < USBBulkStream.stopLimit, "stopping waits only for cancelled transfers")
            #expect(rig.device.pendingInRequests == 0)
            #expect(try await host.read("streaming", timeout: Self.call) == false)
            // What was published before the stop drains; nothing follows.
            let sent = rig.camera.withState { $0.payloadsSent }
            while (try? await rig.frames.next(timeout: .milliseconds(300))) != nil {}
            #expect(rig.camera.withState { $0.payloadsSent } == sent)
        }
    }
}

/// Whether two frames are equal, compared as a Bool: an `#expect` on two megabyte arrays
/// would compute their difference when they differ, which takes minutes.
func sameBytes(_ received: [UInt8], _ expected: [UInt8]) -> Bool {
    received == expected
}
