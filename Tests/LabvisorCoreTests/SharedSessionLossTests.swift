import LabvisorCore
import Testing

/// `SharedSession` when its resource is lost (device unplugged) and comes back.
@Suite struct SharedSessionLossTests {
    let gone = LabvisorError(.deviceGone, "instrument stage-x is gone")

    @Test func loseShutsDownNowButKeepsTheReferencesAndRefusesStartsUntilRevived() async throws {
        let driver = CountingDriver()
        let session = driver.session(linger: .seconds(30))
        let reference = try await session.open(by: "client 1")
        #expect(session.resource == 1)
        await session.lose(with: gone)
        #expect(driver.shutdowns.current == 1)
        #expect(session.resource == nil)
        #expect(session.statistics.openReferences == 1, "references survive the loss")
        let opened = await #expect(throws: LabvisorError.self) { try await session.open(by: "client 2") }
        #expect(opened?.code == .deviceGone)
        let used = await #expect(throws: LabvisorError.self) { try await session.resource(for: reference) }
        #expect(used?.code == .deviceGone)
        #expect(driver.startups.current == 1, "nothing was started against the lost device")

        #expect(session.revive(), "a reference is open: the resource starts again at once")
        await session.settle()
        #expect(driver.startups.current == 2)
        #expect(try await session.resource(for: reference) == 2)
        try session.close(reference)
        await session.retire()
    }

    @Test func reviveWithoutReferencesStartsNothingAndTheNextOpenDoes() async throws {
        let driver = CountingDriver()
        let session = driver.session()
        try session.close(try await session.open(by: "client 1"))
        await session.settle()
        await session.lose(with: gone)
        #expect(!session.revive())
        #expect(driver.startups.current == 1)
        let reference = try await session.open(by: "client 2")
        #expect(try session.use(reference) == 2)
        try session.close(reference)
        await session.retire()
    }

    @Test func resourceForAReferenceWaitsForTheRestartInProgress() async throws {
        let driver = CountingDriver(startDelay: .milliseconds(100))
        let session = driver.session()
        let reference = try await session.open(by: "client 1")
        await session.lose(with: gone)
        #expect(session.revive())
        // The restart is under way: the holder waits for it rather than failing.
        #expect(try await session.resource(for: reference) == 2)
        try session.close(reference)
        await session.retire()
    }

    @Test func aFailedRestartIsRetriedByTheNextUse() async throws {
        let driver = CountingDriver()
        let session = driver.session()
        let reference = try await session.open(by: "client 1")
        await session.lose(with: gone)
        driver.failures.withLock { $0 = 1 }
        #expect(session.revive())
        await session.settle()
        #expect(session.statistics.failedStartups == 1)
        #expect(try await session.resource(for: reference) == 2, "the next use starts it again")
        try session.close(reference)
        await session.retire()
    }

    @Test func loseDuringAStartupWaitsForItAndShutsItDown() async throws {
        let driver = CountingDriver(startDelay: .milliseconds(100))
        let session = driver.session()
        let opening = Task { try await session.open(by: "client 1") }
        let deadline = ContinuousClock.now + .seconds(5)
        while session.statistics.phase != "starting" {
            try #require(ContinuousClock.now < deadline, "the open began starting the resource")
            try await Task.sleep(for: .milliseconds(1))
        }
        await session.lose(with: gone)
        #expect(driver.up.current == 0, "the resource started meanwhile is down again")
        let reference = try await opening.value
        #expect(session.statistics.openReferences == 1)
        try session.close(reference)
        await session.retire()
    }
}
