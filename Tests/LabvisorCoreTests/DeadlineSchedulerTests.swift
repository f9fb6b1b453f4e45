import LabvisorCore
import Testing

@Suite struct DeadlineSchedulerTests {
    @Test func firesAtTheDeadlineNotBefore() async throws {
        let scheduler = DeadlineScheduler()
        let firedAt = Locked<ContinuousClock.Instant?>(nil)
        let start = ContinuousClock.now
        _ = scheduler.schedule(at: start + .milliseconds(50)) { firedAt.withLock { $0 = .now } }
        try await eventually { firedAt.current != nil }
        let elapsed = try #require(firedAt.current) - start
        #expect(elapsed >= .milliseconds(50))
        #expect(elapsed < .seconds(10))
        #expect(scheduler.pending == 0)
    }

    @Test func aCancelledActionNeverRuns() async throws {
        let scheduler = DeadlineScheduler()
        let fired = Locked(0)
        let token = scheduler.schedule(at: .now + .milliseconds(20)) { fired.withLock { $0 += 1 } }
        scheduler.cancel(token)
        _ = scheduler.schedule(at: .now + .milliseconds(60)) { fired.withLock { $0 += 10 } }
        // The later action firing means the cancelled one's time has passed too.
        try await eventually { fired.current >= 10 }
        try await Task.sleep(for: .milliseconds(50))
        #expect(fired.current == 10)
    }

    @Test func anEarlierDeadlineIsNotHeldUpByALaterOne() async throws {
        let scheduler = DeadlineScheduler()
        let order = Locked<[String]>([])
        _ = scheduler.schedule(at: .now + .seconds(30)) { order.withLock { $0.append("late") } }
        let start = ContinuousClock.now
        _ = scheduler.schedule(at: start + .milliseconds(30)) { order.withLock { $0.append("early") } }
        try await eventually { !order.current.isEmpty }
        #expect(order.current == ["early"])
        #expect(ContinuousClock.now - start < .seconds(5))
        #expect(scheduler.pending == 1)
    }

    @Test func manyDeadlinesFireInOrderAndCancelledOnesAreCompacted() async throws {
        let scheduler = DeadlineScheduler()
        let fired = Locked<[Int]>([])
        // Far enough ahead that scheduling and cancelling are done before the first fires,
        // also under ThreadSanitizer on a loaded machine (30 ms was not: odd ones fired first).
        let base = ContinuousClock.now + .seconds(2)
        var tokens: [DeadlineScheduler.Token] = []
        for index in (0..<200).reversed() {
            tokens.append(scheduler.schedule(at: base + .milliseconds(index / 10)) { fired.withLock { $0.append(index) } })
        }
        // Cancel the odd ones, and schedule-and-cancel enough extra to force a compaction.
        for (position, token) in tokens.enumerated() where (199 - position) % 2 == 1 { scheduler.cancel(token) }
        for _ in 0..<5000 { scheduler.cancel(scheduler.schedule(at: .now + .seconds(60)) {}) }
        // Live entries are the even ones not yet fired (a slow run, under TSan or load, may
        // already have fired some): cancelled ones never count, compacted or not.
        let (pending, firedSoFar) = (scheduler.pending, fired.current.count)
        #expect(pending + firedSoFar >= 100 && pending <= 100, "pending \(pending), fired \(firedSoFar)")
        try await eventually(.seconds(10)) { fired.current.count == 100 }
        #expect(scheduler.pending == 0)
        let times = fired.current.map { $0 / 10 }
        #expect(times == times.sorted())
        #expect(fired.current.allSatisfy { $0 % 2 == 0 })
    }
}

@Suite struct LeaseTokenTests {
    @Test func tokensAreUniqueHexOf128Bits() async throws {
        let table = makeTable(instruments: 1)
        var seen: Set<String> = []
        for round in 0..<500 {
            let lease = try await table.acquire(.names(["stage-0"]), for: client(1), timeout: .zero)
            #expect(lease.token.count == 32)
            #expect(lease.token.allSatisfy { $0.isHexDigit && !$0.isUppercase })
            #expect(seen.insert(lease.token).inserted, "token repeated in round \(round)")
            try table.release(lease.id, by: client(1))
        }
    }
}
