import Foundation
import LabvisorHardware
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Each `DedicatedThread.Priority` is in force on the thread that runs the body, and the
/// caller's thread keeps its own.
@Suite("DedicatedThreadTests", .timeLimit(.minutes(1)))
struct DedicatedThreadTests {
    /// `SCHED_OTHER` of `<sched.h>`.
    private static let schedOther: Int32 = 0

    @Test func normalKeepsTheDefaultPolicyAndNice() async throws {
        let (policy, nice) = try await DedicatedThread.run(.normal) { (sched_getscheduler(0), getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)) }
        #expect(policy == Self.schedOther)
        #expect(nice == getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0))
    }

    @Test func backgroundRunsAtNice19() async throws {
        let (policy, nice) = try await DedicatedThread.run(.background) { (sched_getscheduler(0), getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)) }
        #expect(policy == Self.schedOther)
        #expect(nice == 19)
    }

    /// The lowered body runs on a thread of its own; the thread that joins it (and, in `run`,
    /// resumes the caller) keeps its priority, so a Swift pool thread it starts is normal.
    @Test func aLoweredBodyLeavesTheJoiningThreadAtItsPriority() async throws {
        let nice: @Sendable () -> Int32 = { getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0) }
        let (before, inside, after, sameThread) = try await DedicatedThread.run(.normal) { () throws -> (Int32, Int32, Int32, Bool) in
            let before = nice()
            let joiner = pthread_self()
            let inside = try DedicatedThread.joined(.background) { (nice(), pthread_equal(pthread_self(), joiner) != 0) }.get()
            return (before, inside.0, nice(), inside.1)
        }
        #expect(inside == 19)
        #expect(!sameThread)
        #expect(after == before)
        #expect(after != 19)
    }

    @Test func aThrowingBodyRethrowsOnTheCaller() async throws {
        struct Refused: Error {}
        await #expect(throws: Refused.self) {
            try await DedicatedThread.run(.background) { () throws -> Int in throw Refused() }
        }
    }
}

/// Threads carry the name their creator gives (cut to the kernel's 15 bytes), not the
/// creator's own.
@Suite("DedicatedThreadNameTests", .timeLimit(.minutes(1)))
struct DedicatedThreadNameTests {
    @Test func namesAreCutToFifteenBytesAtACharacterBoundary() {
        #expect(DedicatedThread.threadName("discovery") == "discovery")
        #expect(DedicatedThread.threadName("state store writer") == "state store wri")
        #expect(DedicatedThread.threadName("abcdefghijklmnµ") == "abcdefghijklmn")  // µ is 2 bytes: the 15th and 16th
    }

    @Test func runAndWorkerThreadsCarryTheirNames() async throws {
        #expect(try await DedicatedThread.run { currentThreadName() } == "blocking work")
        let worker = try WorkerThread("state store writer")
        defer { worker.finish() }
        #expect(try await worker.run { currentThreadName() } == "state store wri")
    }
}
