import LabvisorCore
import LabvisorDriverTesting
import Testing

/// A resource whose startups and shutdowns are counted, optionally slow or failing.
final class CountingDriver: Sendable {
    let startups = Locked(0)
    let shutdowns = Locked(0)
    let up = Locked(0)
    let startDelay: Duration
    let stopDelay: Duration
    let failures = Locked(0)

    init(startDelay: Duration = .zero, stopDelay: Duration = .zero) {
        self.startDelay = startDelay
        self.stopDelay = stopDelay
    }

    func session(_ name: String = "stage-x", linger: Duration = .zero) -> SharedSession<Int> {
        SharedSession(name: name, linger: linger) {
            if self.startDelay > .zero { try await Task.sleep(for: self.startDelay) }
            if self.failures.withLock({ (f: inout Int) -> Bool in
                if f > 0 { f -= 1; return true }
                return false
            }) {
                throw LabvisorError(.driverFault, "identify failed")
            }
            let generation = self.startups.withLock { (s: inout Int) -> Int in s += 1; return s }
            let concurrent = self.up.withLock { (u: inout Int) -> Int in u += 1; return u }
            #expect(concurrent == 1, "two instances of the resource up at once")
            return generation
        } shutdown: { _ in
            if self.stopDelay > .zero { try? await Task.sleep(for: self.stopDelay) }
            self.up.withLock { $0 -= 1 }
            self.shutdowns.withLock { $0 += 1 }
        }
    }
}

@Suite struct SharedSessionTests {
    @Test func firstOpenStartsFurtherOpensCountLastCloseStops() async throws {
        let driver = CountingDriver()
        let session = driver.session()
        let a = try await session.open(by: "client 1")
        let b = try await session.open(by: "client 2")
        #expect(driver.startups.current == 1)
        #expect(session.statistics.openReferences == 2)
        #expect(try session.use(a) == 1)
        try session.close(a)
        await session.settle()
        #expect(driver.shutdowns.current == 0)
        #expect(try session.use(b) == 1)
        try session.close(b)
        await session.settle()
        #expect(driver.shutdowns.current == 1)
        #expect(session.statistics.phase == "idle")
    }

    @Test func useAfterCloseAndUnbalancedCloseAreErrorsNamingTheHolder() async throws {
        let session = CountingDriver().session()
        let reference = try await session.open(by: "uid 1000 pid 42")
        try session.close(reference)
        let useError = #expect(throws: LabvisorError.self) { try session.use(reference) }
        #expect(useError?.code == .closed)
        let closeError = #expect(throws: LabvisorError.self) { try session.close(reference) }
        #expect(closeError?.code == .closed)
        #expect(closeError?.message.contains("uid 1000 pid 42") == true)
        #expect(closeError?.message.contains("unbalanced close") == true)
        await session.settle()
        #expect(session.statistics.openReferences == 0)
    }

    @Test func anOpenDuringTheLingerCancelsTheShutdown() async throws {
        let driver = CountingDriver()
        let session = driver.session(linger: .milliseconds(200))
        try session.close(try await session.open(by: "script 1"))
        #expect(session.statistics.phase == "lingering")
        try await Task.sleep(for: .milliseconds(50))
        let again = try await session.open(by: "script 2")
        #expect(driver.startups.current == 1)
        try await Task.sleep(for: .milliseconds(300))
        #expect(driver.shutdowns.current == 0)
        #expect(try session.use(again) == 1)
        try session.close(again)
        try await eventually { driver.shutdowns.current == 1 }
        #expect(driver.startups.current == 1)
    }

    /// A configuration reload sets the linger of an open session: the next last close uses it.
    @Test func aNewLingerAppliesFromTheNextLastClose() async throws {
        let driver = CountingDriver()
        let session = driver.session(linger: .seconds(60))
        let reference = try await session.open(by: "script")
        session.setLinger(.zero)
        #expect(session.linger == .zero)
        #expect(try session.use(reference) == 1, "the open session is untouched")
        try session.close(reference)
        #expect(session.statistics.phase != "lingering")
        try await eventually { driver.shutdowns.current == 1 }
        session.setLinger(.seconds(60))
        try session.close(try await session.open(by: "script"))
        #expect(session.statistics.phase == "lingering")
        await session.retire()
    }

    @Test func anOpenDuringShutdownWaitsThenStartsAgain() async throws {
        let driver = CountingDriver(stopDelay: .milliseconds(100))
        let session = driver.session()
        try session.close(try await session.open(by: "first"))
        #expect(session.statistics.phase == "stopping")
        let reference = try await session.open(by: "second")
        #expect(driver.shutdowns.current == 1)
        #expect(driver.startups.current == 2)
        #expect(try session.use(reference) == 2)
    }

    @Test func opensDuringStartupWaitForIt() async throws {
        let driver = CountingDriver(startDelay: .milliseconds(50))
        let session = driver.session()
        let references = try await withThrowingTaskGroup(of: SessionReference.self) { group in
            for index in 0..<20 { group.addTask { try await session.open(by: "opener \(index)") } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(references.count == 20)
        #expect(driver.startups.current == 1)
        #expect(Set(references.map(\.id)).count == 20)
    }

    @Test func aFailedStartupFailsEveryWaiterAndLeavesTheCountConsistent() async throws {
        let driver = CountingDriver(startDelay: .milliseconds(30))
        driver.failures.withLock { $0 = 1 }
        let session = driver.session()
        let results = await withTaskGroup(of: Result<SessionReference, any Error>.self) { group in
            for index in 0..<5 {
                group.addTask {
                    do { return .success(try await session.open(by: "opener \(index)")) } catch { return .failure(error) }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        for result in results {
            #expect(throws: LabvisorError(.driverFault, "identify failed")) { try result.get() }
        }
        let statistics = session.statistics
        #expect(statistics.openReferences == 0 && statistics.waitingOpeners == 0)
        #expect(statistics.failedStartups == 1 && statistics.phase == "idle")
        // The next open tries again and works.
        let reference = try await session.open(by: "retry")
        #expect(try session.use(reference) == 1)
    }

    @Test func aCancelledOpenerLeavesWithoutLeakingAReference() async throws {
        let driver = CountingDriver(startDelay: .milliseconds(200))
        let session = driver.session()
        let opener = Task { try await session.open(by: "impatient") }
        try await eventually { session.statistics.waitingOpeners == 1 }
        opener.cancel()
        await #expect(throws: CancellationError.self) { try await opener.value }
        await session.settle()
        // The startup finished with nobody waiting: it was shut down again.
        #expect(session.statistics.openReferences == 0)
        #expect(driver.startups.current == driver.shutdowns.current)
    }

    @Test func retireShutsDownAndClosesEverything() async throws {
        let driver = CountingDriver()
        let session = driver.session(linger: .seconds(60))
        let reference = try await session.open(by: "holder")
        await session.retire()
        #expect(driver.shutdowns.current == 1)
        #expect(throws: LabvisorError.self) { try session.use(reference) }
        await #expect(throws: LabvisorError.self) { try await session.open(by: "late") }
    }

    @Test func thousandTasksOfOverlappingOpensAndClosesBalance() async throws {
        let driver = CountingDriver()
        let session = driver.session()
        try await withTimeLimit(.seconds(60)) {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<1000 {
                    group.addTask {
                        for round in 0..<5 {
                            let reference = try await session.open(by: "task \(index)")
                            #expect(try session.use(reference) >= 1)
                            if (index + round) % 3 == 0 { await Task.yield() }
                            try session.close(reference)
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        await session.settle()
        let statistics = session.statistics
        #expect(statistics.openReferences == 0)
        #expect(statistics.waitingOpeners == 0)
        #expect(driver.startups.current >= 1)
        #expect(driver.startups.current == driver.shutdowns.current)
        #expect(statistics.startups == statistics.shutdowns)
        #expect(driver.up.current == 0)
    }
}
