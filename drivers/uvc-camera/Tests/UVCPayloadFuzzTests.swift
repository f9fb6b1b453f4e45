import LabvisorDriverKit
import LabvisorDriverTesting
import LabvisorHardware
import Testing
@testable import UVCCamera

/// Hostile bytes for the UVC readers (`MutationFuzzer`, fixed seeds): payload headers and the
/// frame assembler fed a mutated payload stream, stream-control blocks, class descriptors.
/// Any input is a value, `nil` or a `LabvisorError`, never a crash; the assembler only ever
/// returns frames of the committed size.
@Suite struct UVCPayloadFuzzTests {
    @Test func payloadHeadersAndFrameAssembly() async throws {
        let wrongSizes = try await DedicatedThread.run(.background) { () throws -> Int in
            let frameSize = 64
            func payload(_ flags: UInt8, _ data: [UInt8]) -> [UInt8] { [12, 0x80 | 0x0C | flags, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0] + data }
            var fuzzer = MutationFuzzer(
                seed: 0x0FC,
                corpus: [
                    payload(0, [UInt8](0..<40)), payload(0x02, [UInt8](40..<64)), payload(0x01, [UInt8](0..<64)), payload(0x40, []),
                    [2, 0x82], [0xFF, 0xFF, 0xFF],
                ])
            var assembler = UVCFrameAssembler(frameSize: frameSize)
            var wrong = 0
            try fuzzer.run(iterations: 30_000) { bytes in
                _ = UVCPayloadHeader(bytes)?.presentationTime
                for frame in assembler.add(bytes) where frame.bytes.count != frameSize { wrong += 1 }
            }
            return wrong
        }
        #expect(wrongSizes == 0, "the assembler only returns frames of the committed size")
    }

    @Test func streamControlAndDescriptors() async throws {
        try await DedicatedThread.run(.background) {
            let control = UVCStreamControl(formatIndex: 1, frameIndex: 1, frameInterval: 333_333, uvcVersion: 0x0110).bytes
            // A VS input header and a frame descriptor, as class-specific descriptors come.
            let descriptors: [UInt8] = [14, 0x24, 0x01, 1, 0, 0, 0x81, 0, 0, 0, 0, 0, 0, 0]
                + [30, 0x24, 0x05, 1, 0, 0x80, 0x02, 0xE0, 0x01] + [UInt8](repeating: 0, count: 21)
            var fuzzer = MutationFuzzer(seed: 0xDE5C, corpus: [control, descriptors])
            try fuzzer.run(iterations: 30_000) { bytes in
                _ = try? UVCStreamControl(bytes: bytes)
                _ = try UVCDeviceDescription.split(bytes, interface: 1)
            }
        }
    }
}
