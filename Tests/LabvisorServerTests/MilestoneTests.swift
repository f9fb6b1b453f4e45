@testable import LabvisorServer
import Testing

/// The one-time signal behind `DiscoveryService.coldplugFinished`.
@Suite("MilestoneTests")
struct MilestoneTests {
    @Test func waitersResumeWhenReachedAndLaterWaitsReturnAtOnce() async throws {
        let milestone = Milestone("the test's milestone")
        let waiter = Task { try await milestone.wait(timeout: .seconds(10)) }
        milestone.reach()
        try await waiter.value
        #expect(milestone.isReached)
        try await milestone.wait(timeout: .zero)
    }

    @Test func aWaitPastItsTimeoutIsATimeoutNamingIt() async throws {
        let milestone = Milestone("the test's milestone")
        do {
            try await milestone.wait(timeout: .milliseconds(50))
            Issue.record("expected a timeout")
        } catch let error as LabvisorError {
            #expect(error.code == .timeout)
            #expect(error.message.contains("the test's milestone"))
        }
    }

    @Test func aCancelledWaitEnds() async throws {
        let milestone = Milestone("the test's milestone")
        let waiter = Task { try await milestone.wait(timeout: nil) }
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
    }
}
