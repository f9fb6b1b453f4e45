import Foundation
import LabvisorCore
import LabvisorHardware
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A `WorkerThread` runs every job on its one thread, in order, at normal priority, and
/// ends after `finish()` once the work submitted before it has run.
@Suite("WorkerThreadTests", .timeLimit(.minutes(1)))
struct WorkerThreadTests {
    @Test func jobsRunInOrderOnOneThreadAtNormalPriority() async throws {
        let worker = try WorkerThread("test")
        defer { worker.finish() }
        let order = Mutex<[Int]>([])
        var threads: Set<pthread_t> = []
        for index in 0..<20 {
            let (thread, policy, nice) = try await worker.run { () -> (pthread_t, Int32, Int32) in
                order.withLock { $0.append(index) }
                return (pthread_self(), sched_getscheduler(0), getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0))
            }
            threads.insert(thread)
            #expect(policy == 0)  // SCHED_OTHER
            #expect(nice == getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0))
        }
        #expect(threads.count == 1)
        #expect(!threads.contains(pthread_self()))
        #expect(order.withLock { $0 } == Array(0..<20))
    }

    @Test func concurrentCallersAllGetTheirOwnResults() async throws {
        let worker = try WorkerThread("test")
        defer { worker.finish() }
        let results = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            for index in 0..<100 { group.addTask { (index, try await worker.run { index * index }) } }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        #expect(results.count == 100)
        #expect(results.allSatisfy { $0.value == $0.key * $0.key })
    }

    @Test func aThrowingJobRethrowsAndTheThreadGoesOn() async throws {
        struct Refused: Error {}
        let worker = try WorkerThread("test")
        defer { worker.finish() }
        await #expect(throws: Refused.self) { try await worker.run { () throws -> Int in throw Refused() } }
        #expect(try await worker.run { 7 } == 7)
    }

    @Test func finishRunsWhatWasSubmittedThenRefusesMore() async throws {
        let worker = try WorkerThread("test")
        let slow = Task { try await worker.run { usleep(50_000); return "ran" } }
        try await Task.sleep(for: .milliseconds(5))
        let queued = Task { try await worker.run { "queued ran" } }
        try await Task.sleep(for: .milliseconds(5))
        worker.finish()
        #expect(try await slow.value == "ran")
        #expect(try await queued.value == "queued ran")
        await #expect {
            try await worker.run { 1 }
        } throws: { error in
            (error as? LabvisorError)?.code == .unavailable
        }
    }
}
