import LabvisorDriverKit
import LabvisorDriverTesting
import LabvisorHardware
import Testing
@testable import ThorlabsAPT

/// Hostile replies for the APT decoder (`MutationFuzzer`, a fixed seed): any byte string is
/// a message, a `driverFault`, never a crash; decoded messages go through the status and
/// hardware-info readers the driver applies to them.
@Suite struct APTReplyFuzzTests {
    @Test func messageStatusAndInfoDecoders() async throws {
        try await DedicatedThread.run(.background) {
            var long: [UInt8] = []
            long.appendWord(1)
            long.appendLong(-123_456)
            let corpus: [[UInt8]] = [
                APTMessage(0x0444, param1: 1, destination: 0x01, source: 0x50).bytes,
                APTMessage(0x0412, data: long, destination: 0x01, source: 0x50).bytes,
                APTMessage(0x0491, data: [UInt8](repeating: 0x5A, count: 14), destination: 0x01, source: 0x50).bytes,
                APTMessage(0x0006, data: [UInt8](repeating: 0x41, count: 84), destination: 0x01, source: 0x50).bytes,
            ]
            var fuzzer = MutationFuzzer(seed: 0xA9_7000, corpus: corpus, dictionary: [[0x91, 0x04], [0x06, 0x00], [0x81], [0xFF, 0xFF]])
            try fuzzer.run(iterations: 30_000) { bytes in
                let message = try APTMessage(frame: bytes)
                _ = try? APTStatus(message)
                _ = try? APTDeviceInfo(message)
                _ = try? message.long(at: 2)
                _ = try? message.text(at: 4, size: 8)
            }
        }
    }
}
