import LabvisorDriverTesting
import LabvisorHardware
import Testing
@testable import ZaberASCII

/// Hostile reply lines for the Zaber ASCII reply parser (`MutationFuzzer`, a fixed seed, on a
/// thread of its own): any line is a reply or `nil` (the driver then resyncs), never a crash.
@Suite struct ZaberReplyFuzzTests {
    @Test func replyLineParser() async throws {
        let parsed = try await DedicatedThread.run(.background) { () throws -> Int in
            var fuzzer = MutationFuzzer(
                seed: 0x2AB3,
                texts: ["@01 1 OK IDLE -- 0", "@01 1 05 OK BUSY -- 1200", "@02 0 RJ IDLE FZ BADDATA", "@01 0 OK IDLE WR 3 100 200 300", "#01 0 info"],
                tokens: ["@", " ", "OK", "RJ", "BUSY", "IDLE", "--", "FZ", "-", "99999999999999999999", "\r", "\n"])
            var parsed = 0
            try fuzzer.run(iterations: 30_000) { bytes in
                if let reply = ZaberReply(line: String(decoding: bytes, as: UTF8.self)) {
                    parsed += 1
                    _ = reply.data.split(separator: " ").map { Int($0) }
                }
            }
            return parsed
        }
        #expect(parsed > 0, "some mutated lines are still replies: the fuzzer reached the parser's accepting paths")
    }
}
