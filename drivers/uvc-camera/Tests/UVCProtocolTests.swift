import LabvisorDriverKit
import Testing
import UVCCameraSimulator

@testable import UVCCamera

/// The driver's protocol code on its own: descriptors (read from the simulator's, which are
/// written independently from the UVC specification), probe/commit layout, payload headers
/// and frame assembly.
@Suite
struct UVCProtocolTests {
    @Test func descriptorsOfTheSimulatedCameraParse() throws {
        let camera = UVCCameraDevice()
        let uvc = try UVCDeviceDescription(configuration: camera.descriptors.configuration)
        #expect(uvc.controlInterface == 0)
        #expect(uvc.uvcVersion == 0x0110)
        #expect(uvc.cameraTerminal?.id == 1)
        #expect(uvc.cameraTerminal?.supports(bit: UVC.CameraSelector.exposureTimeAbsoluteBit) == true)
        #expect(uvc.cameraTerminal?.supports(bit: UVC.CameraSelector.autoExposureModeBit) == true)
        #expect(uvc.cameraTerminal?.supports(bit: 0) == false)
        let streaming = try #require(uvc.streaming.first)
        #expect(uvc.streaming.count == 1)
        #expect(streaming.number == 1 && streaming.endpoint == 0x81 && streaming.isBulk)
        #expect(streaming.formats.map(\.pixelFormat) == [.grey, .grey16, .yuy2])
        #expect(streaming.formats.map(\.index) == [1, 2, 3])
        #expect(streaming.formats.map(\.bitsPerPixel) == [8, 16, 16])
        let grey = streaming.formats[0].frames
        #expect(grey.map { [$0.width, $0.height] } == [[640, 480], [2048, 2048]])
        #expect(grey.map(\.index) == [1, 2])
        #expect(grey[0].intervals == [333_333, 666_666] && grey[0].defaultInterval == 333_333 && !grey[0].continuousIntervals)
        #expect(grey[1].maxFrameBufferSize == 2048 * 2048)
        #expect(streaming.formats[1].frames.map(\.maxFrameBufferSize) == [2048 * 2048 * 2])
    }

    @Test func malformedDescriptorsAreADriverFaultNamingThem() {
        var configuration = UVCCameraDevice().descriptors.configuration
        configuration.interfaces[1].alternateSettings[0].extra[0] = 200  // a length past the end
        let error = #expect(throws: LabvisorError.self) { try UVCDeviceDescription(configuration: configuration) }
        #expect(error?.code == .driverFault)
        #expect(error?.message.contains("interface 1") == true)
        configuration.interfaces.removeFirst()
        #expect(throws: LabvisorError.self) { try UVCDeviceDescription(configuration: configuration) }
    }

    @Test func streamControlLayoutFollowsTheUVCVersion() throws {
        #expect(UVCStreamControl.length(uvcVersion: 0x0100) == 26)
        #expect(UVCStreamControl.length(uvcVersion: 0x0110) == 34)
        #expect(UVCStreamControl.length(uvcVersion: 0x0150) == 48)
        var probe = UVCStreamControl(formatIndex: 2, frameIndex: 1, frameInterval: 1_000_000, uvcVersion: 0x0110)
        probe.maxPayloadTransferSize = 0x0002_000c
        let bytes = probe.bytes
        #expect(bytes.count == 34)
        #expect(Array(bytes[0..<8]) == [1, 0, 2, 1, 0x40, 0x42, 0x0f, 0x00])
        #expect(Array(bytes[22..<26]) == [0x0c, 0x00, 0x02, 0x00])
        let read = try UVCStreamControl(bytes: bytes)
        #expect(read == probe)
        #expect(throws: LabvisorError.self) { try UVCStreamControl(bytes: [UInt8](repeating: 0, count: 25)) }
    }

    @Test func payloadHeaders() {
        let header = UVCPayloadHeader([12, 0x8f, 0x78, 0x56, 0x34, 0x12, 0, 0, 0, 0, 0, 0, 0xaa])
        #expect(header?.length == 12 && header?.frameID == true && header?.endOfFrame == true)
        #expect(header?.presentationTime == 0x1234_5678)
        #expect(UVCPayloadHeader([2, 0x80])?.presentationTime == nil)
        #expect(UVCPayloadHeader([1]) == nil, "too short")
        #expect(UVCPayloadHeader([13, 0x80, 0, 0]) == nil, "length past the payload")
        #expect(UVCPayloadHeader([2, 0x84, 0, 0, 0, 0]) == nil, "PTS bit without room for it")
    }

    /// Payloads of a frame: `data` split into `parts`, FID `fid`, EOF on the last.
    func payloads(_ data: [UInt8], parts: Int, fid: Bool, eof: Bool = true) -> [[UInt8]] {
        let size = (data.count + parts - 1) / parts
        return stride(from: 0, to: data.count, by: size).map { start in
            let end = min(start + size, data.count)
            let info: UInt8 = 0x80 | (fid ? 1 : 0) | (eof && end == data.count ? 2 : 0)
            return [2, info] + data[start..<end]
        }
    }

    @Test func assemblerDeliversWholeFramesAndCountsTheRest() {
        var assembler = UVCFrameAssembler(frameSize: 8)
        let first = Array(0..<8 as Range<UInt8>), second = Array(10..<18 as Range<UInt8>)
        var delivered: [[UInt8]] = []
        for payload in payloads(first, parts: 2, fid: false) + payloads(second, parts: 4, fid: true) {
            delivered += assembler.add(payload).map(\.bytes)
        }
        #expect(delivered == [first, second])

        // A payload with the error bit spoils its frame; the next frame is whole again.
        var broken = payloads(first, parts: 2, fid: false)
        broken[0][1] |= 0x40
        delivered = []
        for payload in broken + payloads(second, parts: 2, fid: true) { delivered += assembler.add(payload).map(\.bytes) }
        #expect(delivered == [second])
        #expect(assembler.corruptPayloads == 1 && assembler.droppedFrames == 1)

        // A lost payload: the frame is short, dropped at its EOF.
        delivered = []
        for payload in payloads(first, parts: 4, fid: false).dropFirst() { delivered += assembler.add(payload).map(\.bytes) }
        #expect(delivered.isEmpty && assembler.droppedFrames == 2)

        // Without EOF bits, the FID toggle ends a frame.
        delivered = []
        for payload in payloads(first, parts: 2, fid: true, eof: false) + payloads(second, parts: 2, fid: false, eof: false) {
            delivered += assembler.add(payload).map(\.bytes)
        }
        #expect(delivered == [first])

        // An invalid header counts as corrupt; a frame too long is dropped.
        #expect(assembler.add([9, 0x80, 1]).isEmpty)
        #expect(assembler.corruptPayloads == 2)
        #expect(assembler.add([2, 0x83] + first + [0]).isEmpty)
        #expect(assembler.frames == 4 && assembler.droppedFrames == 4)
    }

    @Test func frameIntervalIsTheClosestOffered() {
        let frame = UVCFrameSize(
            index: 1, width: 8, height: 8, maxFrameBufferSize: 64, defaultInterval: 333_333, intervals: [333_333, 666_666],
            continuousIntervals: false)
        #expect(UVCCameraDriver.interval(for: 0, in: frame) == 333_333)
        #expect(UVCCameraDriver.interval(for: 14, in: frame) == 666_666)
        #expect(UVCCameraDriver.interval(for: 100, in: frame) == 333_333)
    }
}
