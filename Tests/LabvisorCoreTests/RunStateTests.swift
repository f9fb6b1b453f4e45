import Foundation
import LabvisorCore
import Logging
import ServiceLifecycle
import Testing

@Suite struct RunStateTests {
    @Test func walksIdleRunningStoppedWithTimesAndHooks() async throws {
        let state = RunState(name: "stream")
        let log = Locked<[String]>([])
        state.onStart { _ in log.withLock { $0.append("start") } }
        state.onStop { _ in log.withLock { $0.append("stop") } }
        #expect(state.phase == .idle)
        let value = try await state.run {
            #expect(state.phase == .running)
            try await Task.sleep(for: .milliseconds(20))
            return 42
        }
        #expect(value == 42)
        let snapshot = state.snapshot
        #expect(snapshot.phase == .stopped)
        #expect(snapshot.startedAt != nil && snapshot.stoppedAt != nil)
        #expect(snapshot.runTime >= .milliseconds(20))
        #expect(snapshot.cancelReason == nil)
        #expect(log.current == ["start", "stop"])
    }

    @Test func cancelInterruptsTheBodyAndFiresHooksOnce() async throws {
        let state = RunState(name: "session")
        let cancels = Locked(0)
        state.onCancel { _ in cancels.withLock { $0 += 1 } }
        let runner = Task {
            try await state.run {
                try await Task.sleep(for: .seconds(30))
            }
        }
        try await eventually { state.phase == .running }
        state.cancel(reason: "operator stop")
        state.cancel(reason: "second")
        await #expect(throws: CancellationError.self) { try await runner.value }
        #expect(state.phase == .stopped)
        #expect(state.snapshot.cancelReason == "operator stop")
        #expect(cancels.current == 1)
        #expect(state.snapshot.runTime < .seconds(5))
    }

    @Test func cancellingTheCallingTaskCancelsTheRunState() async throws {
        let state = RunState(name: "daemon")
        let runner = Task {
            try await state.run { try await Task.sleep(for: .seconds(30)) }
        }
        try await eventually { state.phase == .running }
        runner.cancel()
        _ = await runner.result
        #expect(state.phase == .stopped)
        #expect(state.snapshot.cancelReason == "task cancelled")
    }

    @Test func cancellingAParentCancelsItsChildrenButNotTheOtherWay() async throws {
        let parent = RunState(name: "daemon")
        let child = parent.child(named: "session stage-x")
        let grandchild = child.child(named: "stream")
        let sibling = parent.child(named: "session laser")
        let childRun = Task { try await child.run { try await Task.sleep(for: .seconds(30)) } }
        let parentRun = Task { try await parent.run { try await Task.sleep(for: .seconds(30)) } }
        try await eventually { child.phase == .running && parent.phase == .running }

        sibling.cancel(reason: "sibling only")
        #expect(parent.phase == .running)
        #expect(sibling.phase == .stopped)  // cancelled while idle: straight to stopped

        parent.cancel(reason: "shutdown")
        _ = await childRun.result
        _ = await parentRun.result
        #expect(child.phase == .stopped)
        #expect(grandchild.phase == .stopped)
        #expect(child.snapshot.cancelReason?.contains("parent daemon cancelled: shutdown") == true)
        // A child born under a stopped parent starts cancelled.
        #expect(parent.child(named: "late").phase == .stopped)
    }

    @Test func runsOnceOnly() async throws {
        let state = RunState(name: "once")
        try await state.run {}
        await #expect(throws: LabvisorError.self) { try await state.run {} }
        let idleCancelled = RunState(name: "never")
        idleCancelled.cancel(reason: "not needed")
        let error = await #expect(throws: LabvisorError.self) { try await idleCancelled.run {} }
        #expect(error?.code == .closed)
    }

    @Test func stoppedChildrenLeaveTheirParent() async throws {
        let parent = RunState(name: "parent")
        for index in 0..<50 {
            let child = parent.child(named: "call \(index)")
            try await child.run {}
        }
        #expect(parent.children.isEmpty)
    }

    @Test func gracefulShutdownOfAServiceGroupCancelsTheRunState() async throws {
        let state = RunState(name: "service")
        let service = RunStateService(state: state) { _ in
            try await Task.sleep(for: .seconds(30))
        }
        let group = ServiceGroup(
            configuration: .init(services: [.init(service: service)], logger: Logger(label: "test")))
        let running = Task { try await group.run() }
        try await eventually { state.phase == .running }
        await group.triggerGracefulShutdown()
        _ = await running.result
        #expect(state.phase == .stopped)
        #expect(state.snapshot.cancelReason == "graceful shutdown")
    }
}
