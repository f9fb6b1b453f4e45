import LabvisorDriverTesting
import LabvisorHardware
import Testing
@testable import CoherentOBIS

/// Hostile replies for the OBIS reply readers (`MutationFuzzer`, a fixed seed): fault and
/// status words, error codes; any line gives a value or `nil`, never a crash.
@Suite struct OBISReplyFuzzTests {
    @Test func statusWordsAndErrorCodes() async throws {
        try await DedicatedThread.run(.background) {
            var fuzzer = MutationFuzzer(
                seed: 0x0B15,
                texts: ["0x00000000", "0x10000000", "ERR-350", "ERR-400", "0.0499", "Coherent, Inc - OBIS 488nm LX 50mW - 1234567 - V1.0.0"],
                tokens: ["0x", "ERR-", "-", "FFFFFFFFF", "OK", " - ", "\r\n"])
            try fuzzer.run(iterations: 30_000) { bytes in
                let line = String(decoding: bytes, as: UTF8.self)
                if let bits = OBISBits.parse(line) { _ = OBISBits.statusObject(bits) }
                if let code = OBISDeviceError.code(in: line) {
                    _ = OBISDeviceError.error(line, code: code, command: "SOUR:POW:LEV:IMM:AMPL 0.02", instrument: "laser", argument: "watts")
                }
            }
        }
    }
}
