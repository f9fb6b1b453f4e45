import LabvisorCore
import Testing

/// A call's body run inline in the wire request's own task (`RequestTask`): it runs in that
/// task, an interruption cancels that task and nothing else, and only that task may do it.
@Suite struct RequestTaskTests {
    /// Starts `body` as a request task the way the server does.
    private func request<Value: Sendable>(_ body: @escaping @Sendable () async -> Value) -> Task<Value, Never> {
        let request = RequestTask()
        let task = Task { await request.run { await body() } }
        request.setCancel { task.cancel() }
        return task
    }

    @Test func theBodyRunsInTheRequestTaskAndACompletedCallLeavesItUncancelled() async throws {
        let queue = CallQueue(instrument: "stage-x")
        let task = request { () -> (Bool, Bool, Bool) in
            let outer = withUnsafeCurrentTask { $0?.hashValue }
            let (inside, innerRequest) = (try? await queue.perform("echo") {
                (withUnsafeCurrentTask { $0?.hashValue } == outer, RequestTask.current == nil)
            }) ?? (false, false)
            return (inside, innerRequest, Task.isCancelled)
        }
        let (inside, hidden, cancelled) = await task.value
        #expect(inside, "the body ran in the request's task, not a task of its own")
        #expect(hidden, "calls the body makes do not see the request task")
        #expect(!cancelled)
    }

    @Test func aDeadlineCancelsTheRequestTaskAndTheCallEndsAtIt() async throws {
        let queue = CallQueue(instrument: "stage-x")
        let start = ContinuousClock.now
        let task = request { () -> (LabvisorError?, Bool) in
            do {
                try await queue.perform("move", timeout: .milliseconds(100)) { try await Task.sleep(for: .seconds(30)) }
                return (nil, Task.isCancelled)
            } catch {
                return (error as? LabvisorError, Task.isCancelled)
            }
        }
        let (error, cancelled) = await task.value
        #expect(error?.code == .deadlineExceeded)
        #expect(cancelled)
        #expect(ContinuousClock.now - start < .seconds(10))
        try await queue.perform("next", timeout: .seconds(5)) {}
    }

    @Test func anImmediateCallInterruptsTheInlineBody() async throws {
        let queue = CallQueue(instrument: "stage-x")
        let running = Locked(false)
        let task = request { () -> LabvisorError? in
            do {
                try await queue.perform("move") {
                    running.withLock { $0 = true }
                    try await Task.sleep(for: .seconds(30))
                }
                return nil
            } catch {
                return error as? LabvisorError
            }
        }
        try await eventually { running.current }
        try await queue.perform("stop", immediate: true) {}
        let error = await task.value
        #expect(error?.code == .unavailable)
        #expect(error?.fields["interruptedBy"] == "immediate call stop")
    }

    @Test func aTaskCreatedInsideTheRequestDoesNotRunInlineAndIsNotCancelledForIt() async throws {
        let queue = CallQueue(instrument: "stage-x")
        let task = request { () -> (LabvisorError?, Bool, Bool) in
            let requestTask = withUnsafeCurrentTask { $0?.hashValue }
            // Inherits `RequestTask.current`, but is not the request's task.
            let child = Task { () -> (LabvisorError?, Bool) in
                do {
                    try await queue.perform("child", timeout: .milliseconds(100)) {
                        #expect(withUnsafeCurrentTask { $0?.hashValue } != requestTask)
                        try await Task.sleep(for: .seconds(30))
                    }
                    return (nil, Task.isCancelled)
                } catch {
                    return (error as? LabvisorError, Task.isCancelled)
                }
            }
            let (error, childCancelled) = await child.value
            return (error, childCancelled, Task.isCancelled)
        }
        let (error, childCancelled, requestCancelled) = await task.value
        #expect(error?.code == .deadlineExceeded)
        #expect(!childCancelled, "the child ran its body in a task of its own")
        #expect(!requestCancelled, "the request task was not cancelled for another task's call")
    }

    @Test func aRequestCancelledBeforeItsHandleIsKnownIsCancelledWhenItIs() async throws {
        let request = RequestTask()
        let queue = CallQueue(instrument: "stage-x")
        let started = Locked(false)
        let task = Task {
            await request.run { () -> LabvisorError? in
                do {
                    try await queue.perform("move", timeout: .milliseconds(50)) {
                        started.withLock { $0 = true }
                        try await Task.sleep(for: .seconds(30))
                    }
                    return nil
                } catch {
                    return error as? LabvisorError
                }
            }
        }
        // The deadline fires before the server hands over the handle: the cancellation waits
        // for it, and the body, still sleeping, ends as soon as it comes.
        try await eventually { started.current }
        try await Task.sleep(for: .milliseconds(200))
        request.setCancel { task.cancel() }
        let error = await task.value
        #expect(error?.code == .deadlineExceeded)
    }
}
