import LabvisorCore
import Testing

@Suite struct CallQueueTests {
    @Test func callsRunOneAtATimeInArrivalOrder() async throws {
        let queue = CallQueue(instrument: "stage-x")
        let active = Locked(0)
        let order = Locked<[Int]>([])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<50 {
                group.addTask {
                    try await queue.perform("call \(index)") {
                        let now = active.withLock { (a: inout Int) -> Int in a += 1; return a }
                        #expect(now == 1, "driver re-entered")
                        order.withLock { $0.append(index) }
                        await Task.yield()
                        active.withLock { $0 -= 1 }
                    }
                }
                // Let each call take its place before the next one arrives.
                try await eventually { queue.statistics.queued + (queue.statistics.running == nil ? 0 : 1) >= 1 || order.current.count > index }
            }
            try await group.waitForAll()
        }
        #expect(order.current.count == 50)
        #expect(queue.statistics.finished == 50)
    }

    @Test func waitingCallsAreServedFIFO() async throws {
        let queue = CallQueue(instrument: "stage-x")
        let gate = Locked(false)
        let order = Locked<[Int]>([])
        let blocker = Task {
            try await queue.perform("blocker") {
                while !gate.current { try await Task.sleep(for: .milliseconds(1)) }
            }
        }
        try await eventually { queue.statistics.running == "blocker" }
        var callers: [Task<Void, any Error>] = []
        for index in 0..<20 {
            callers.append(Task { try await queue.perform("call \(index)") { order.withLock { $0.append(index) } } })
            try await eventually { queue.statistics.queued == index + 1 }
        }
        gate.withLock { $0 = true }
        try await blocker.value
        for caller in callers { try await caller.value }
        #expect(order.current == Array(0..<20))
    }

    @Test func aDeadlineCancelsTheRunningCallAndTheNextCallRuns() async throws {
        let queue = CallQueue(instrument: "stage-x")
        let sawCancellation = Locked(false)
        let slow = Task {
            try await queue.perform("move", timeout: .milliseconds(100)) {
                do {
                    try await Task.sleep(for: .seconds(30))
                } catch {
                    sawCancellation.withLock { $0 = true }
                    throw error
                }
            }
        }
        try await eventually { queue.statistics.running == "move" }
        let next = Task { try await queue.perform("position") { 12.5 } }
        let start = ContinuousClock.now
        let error = await #expect(throws: LabvisorError.self) { try await slow.value }
        #expect(error?.code == .deadlineExceeded)
        #expect(error?.fields["method"] == "move")
        #expect(ContinuousClock.now - start < .seconds(5))
        #expect(sawCancellation.current)
        #expect(try await next.value == 12.5)
    }

    @Test func aDeadlineAlsoCoversTheWaitInTheQueue() async throws {
        let queue = CallQueue(instrument: "stage-x")
        let gate = Locked(false)
        let blocker = Task {
            try await queue.perform("home") { while !gate.current { try await Task.sleep(for: .milliseconds(1)) } }
        }
        try await eventually { queue.statistics.running == "home" }
        let error = await #expect(throws: LabvisorError.self) {
            try await queue.perform("position", timeout: .milliseconds(50)) { 0 }
        }
        #expect(error?.code == .deadlineExceeded)
        #expect(error?.fields["queued"] == true)
        #expect(queue.statistics.queued == 0)
        gate.withLock { $0 = true }
        try await blocker.value
    }

    @Test func anImmediateCallInterruptsTheRunningCallAndJumpsTheQueue() async throws {
        let queue = CallQueue(instrument: "stage-x")
        let order = Locked<[String]>([])
        let move = Task {
            try await queue.perform("move") {
                try await Task.sleep(for: .seconds(30))
                order.withLock { $0.append("move finished") }
            }
        }
        try await eventually { queue.statistics.running == "move" }
        let queued = Task { try await queue.perform("position") { order.withLock { $0.append("position") } } }
        try await eventually { queue.statistics.queued == 1 }
        let start = ContinuousClock.now
        try await queue.perform("stop", immediate: true) { order.withLock { $0.append("stop") } }
        #expect(ContinuousClock.now - start < .seconds(2))
        let error = await #expect(throws: LabvisorError.self) { try await move.value }
        #expect(error?.code == .unavailable)
        #expect(error?.message.contains("interrupted by immediate call stop") == true)
        try await queued.value
        #expect(order.current == ["stop", "position"])
    }

    @Test func onewayCallsReturnAnIDAndPublishTheirOutcome() async throws {
        let events = EventRecorder()
        let queue = CallQueue(instrument: "laser", events: events)
        let good = try queue.performOneway("warm_up") { ["done": true] }
        let bad = try queue.performOneway("set_power") {
            throw LabvisorError.invalidArgument("power", "above 100 mW")
        }
        #expect(good != bad)
        await queue.drainOneway()
        let completed = try #require(events.of(.callCompleted).first)
        #expect(completed.fields["call"] == .int(Int(good)))
        #expect(completed.fields["result"] == ["done": true])
        let failed = try #require(events.of(.callFailed).first)
        #expect(failed.fields["call"] == .int(Int(bad)))
        #expect(failed.fields["method"] == "set_power")
        #expect(failed.fields["error"]?["code"] == "invalidArgument")
        #expect(failed.instrument == "laser")
    }

    @Test func theQueueIsBounded() async throws {
        let queue = CallQueue(instrument: "stage-x", capacity: 2)
        let gate = Locked(false)
        let blocker = Task { try await queue.perform("home") { while !gate.current { try await Task.sleep(for: .milliseconds(1)) } } }
        try await eventually { queue.statistics.running == "home" }
        let first = Task { try await queue.perform("a") {} }
        let second = Task { try await queue.perform("b") {} }
        try await eventually { queue.statistics.queued == 2 }
        let error = await #expect(throws: LabvisorError.self) { try await queue.perform("c") {} }
        #expect(error?.code == .resourceExhausted)
        #expect(error?.fields["value"] == 2)
        #expect(throws: LabvisorError.self) { try queue.performOneway("d") { nil } }
        gate.withLock { $0 = true }
        try await blocker.value
        try await first.value
        try await second.value
    }

    @Test func closingFailsWaitingAndLaterCallsWithTheGivenError() async throws {
        let queue = CallQueue(instrument: "stage-x")
        let running = Task { try await queue.perform("move") { try await Task.sleep(for: .seconds(30)) } }
        try await eventually { queue.statistics.running == "move" }
        let waiting = Task { try await queue.perform("position") { 1 } }
        try await eventually { queue.statistics.queued == 1 }
        let gone = LabvisorError(.deviceGone, "stage-x was unplugged")
        queue.close(with: gone)
        await #expect(throws: gone) { try await running.value }
        await #expect(throws: gone) { try await waiting.value }
        await #expect(throws: gone) { try await queue.perform("later") { 1 } }
        queue.reopen()
        #expect(try await queue.perform("after replug") { 2 } == 2)
    }

    @Test func aCancelledWaiterLeavesTheQueue() async throws {
        let queue = CallQueue(instrument: "stage-x")
        let gate = Locked(false)
        let blocker = Task { try await queue.perform("home") { while !gate.current { try await Task.sleep(for: .milliseconds(1)) } } }
        try await eventually { queue.statistics.running == "home" }
        let waiter = Task { try await queue.perform("position") { 1 } }
        try await eventually { queue.statistics.queued == 1 }
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
        #expect(queue.statistics.queued == 0)
        gate.withLock { $0 = true }
        try await blocker.value
    }
}
