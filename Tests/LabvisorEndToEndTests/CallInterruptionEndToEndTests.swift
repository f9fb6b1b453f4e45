import Foundation
import LabvisorClient
import Testing

/// Calls stopped before they finish, over the wire: an `immediate` method, a deadline, the
/// caller going away. The daemon runs a call's body in the request's own task
/// (`RequestTask`), so these are the paths where that task is cancelled.
@Suite("CallInterruptionEndToEndTests", .timeLimit(.minutes(2)))
struct CallInterruptionEndToEndTests {
    let loopback = "loopback"

    /// `stop` (immediate) ends a 60 s `sleep` at once with `unavailable` naming it; the
    /// connection and the instrument go on working.
    @Test func anImmediateCallInterruptsALongCall() async throws {
        let daemon = try await DaemonProcess(loopback: true)
        let client = try await daemon.connect()
        _ = try await client.acquire([loopback])
        let start = ContinuousClock.now
        let ended = LockedState<LabvisorError??>(nil)
        let sleeping = Task {
            do {
                _ = try await client.invoke(self.loopback, "sleep", ["seconds": 60], timeout: .seconds(90))
                ended.withLock { $0 = .some(nil) }
            } catch {
                ended.withLock { $0 = .some(error as? LabvisorError) }
            }
        }
        // A stop that arrives before the sleep is queued interrupts nothing: send it until
        // the sleep has ended (once, on any machine not overloaded).
        for _ in 0..<20 where ended.withLock({ $0 }) == nil {
            try await Task.sleep(for: .milliseconds(300))
            _ = try await client.invoke(loopback, "stop", timeout: .seconds(10))
            for _ in 0..<40 where ended.withLock({ $0 }) == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        await sleeping.value
        let error = try #require(ended.withLock { $0 } ?? nil, "the sleep ended with an error")
        #expect(error.code == .unavailable)
        #expect(error.fields["interruptedBy"] == "immediate call stop")
        #expect(ContinuousClock.now - start < .seconds(30), "the sleep ended long before its 60 s")
        #expect(try await client.invoke(loopback, "echo", ["value": 7], timeout: .seconds(10)) == 7)
        await client.close()
        #expect(try await daemon.stop() == 0, "\(daemon.logText)")
    }

    /// A call past its timeout ends with `deadlineExceeded` at the deadline, not when the
    /// driver would have finished; the next call runs at once.
    @Test func aDeadlineCancelsACall() async throws {
        let daemon = try await DaemonProcess(loopback: true)
        let client = try await daemon.connect()
        _ = try await client.acquire([loopback])
        let start = ContinuousClock.now
        let error = await #expect(throws: LabvisorError.self) {
            try await client.invoke(self.loopback, "sleep", ["seconds": 60], timeout: .milliseconds(500))
        }
        #expect(error?.code == .deadlineExceeded)
        #expect(error?.fields["queued"] == false)
        #expect(ContinuousClock.now - start < .seconds(20), "ended at its 0.5 s deadline, not after the 60 s sleep")
        #expect(try await client.invoke(loopback, "echo", ["value": "next"], timeout: .seconds(10)) == "next")
        await client.close()
        #expect(try await daemon.stop() == 0, "\(daemon.logText)")
    }

    /// A client that disconnects during its call: the call is cancelled in the driver, so
    /// another client's call behind it in the queue runs at once.
    @Test func aCallerThatLeavesMidCallFreesTheQueue() async throws {
        let daemon = try await DaemonProcess(loopback: true)
        let leaving = try await daemon.connect()
        _ = try await leaving.acquire([loopback])
        let abandoned = Task { try await leaving.invoke(self.loopback, "sleep", ["seconds": 60], timeout: .seconds(90)) }
        try await Task.sleep(for: .milliseconds(500))
        let other = try await daemon.connect()
        let start = ContinuousClock.now
        let echo = Task { try await other.invoke(self.loopback, "echo", ["value": 1], timeout: .seconds(60)) }
        try await Task.sleep(for: .milliseconds(300))
        await leaving.close()
        #expect(try await echo.value == 1)
        #expect(ContinuousClock.now - start < .seconds(30), "the echo did not wait for the abandoned 60 s sleep")
        abandoned.cancel()
        await other.close()
        #expect(try await daemon.stop() == 0, "\(daemon.logText)")
    }
}
