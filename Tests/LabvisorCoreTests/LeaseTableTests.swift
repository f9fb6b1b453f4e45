import Foundation
import LabvisorCore
import LabvisorDriverTesting
import Testing

/// A lease table with `count` instruments named stage-0... (kind stage, room by parity).
func makeTable(instruments count: Int = 3, limits: LeaseTable.Limits = .init(), events: EventRecorder? = nil,
               records: Locked<[AllocationRecord]>? = nil) -> LeaseTable {
    let table = LeaseTable(limits: limits, events: events) { record in records?.withLock { $0.append(record) } }
    for index in 0..<count {
        table.register(
            "stage-\(index)",
            document: ["name": .string("stage-\(index)"), "kind": "stage", "tags": ["room": index % 2 == 0 ? "B12" : "C3"]],
            status: "ready")
    }
    return table
}

func client(_ id: UInt64) -> ClientRef { ClientRef(id: id, name: "uid 1000 pid \(4000 + id)") }

@Suite struct LeaseTableTests {
    @Test func acquireByNameIsExclusiveAndLockedSaysWhoAndSince() async throws {
        let table = makeTable()
        let lease = try await table.acquire(.names(["stage-0"]), for: client(1))
        #expect(lease.instruments == ["stage-0"])
        #expect(lease.token.count == 32)
        let error = await #expect(throws: LabvisorError.self) {
            try await table.acquire(.names(["stage-0"]), for: client(2), timeout: .zero)
        }
        #expect(error?.code == .locked)
        #expect(error?.fields["holder"] == .string(client(1).description))
        #expect(error?.fields["lease"] == .string(lease.id))
        #expect(error?.fields["status"] == "ready")
        #expect(error?.fields["waiters"] == 0)
        #expect(error?.fields["since"]?.string?.hasPrefix("20") == true)
        #expect(error?.message.contains("locked by client 1") == true)
    }

    @Test func aTimedOutWaitSaysHowManyWait() async throws {
        let table = makeTable()
        _ = try await table.acquire(.names(["stage-1"]), for: client(1))
        let other = Task { try await table.acquire(.names(["stage-1"]), for: client(2), timeout: .seconds(30)) }
        try await eventually { table.waiterCount == 1 }
        let error = await #expect(throws: LabvisorError.self) {
            try await table.acquire(.names(["stage-1"]), for: client(3), timeout: .milliseconds(50))
        }
        #expect(error?.code == .timeout)
        #expect(error?.fields["waiters"] == 1)
        #expect(error?.message.hasPrefix("timed out waiting for stage-1") == true)
        #expect(table.waiterCount == 1)
        other.cancel()
        await #expect(throws: CancellationError.self) { try await other.value }
        #expect(table.waiterCount == 0)
    }

    @Test func releaseHandsTheInstrumentToTheFirstWaiter() async throws {
        let events = EventRecorder()
        let table = makeTable(events: events)
        let first = try await table.acquire(.names(["stage-0"]), for: client(1))
        let waiter = Task { try await table.acquire(.names(["stage-0"]), for: client(2), timeout: .seconds(10)) }
        try await eventually { table.waiterCount == 1 }
        try table.release(first.id, by: client(1))
        let second = try await waiter.value
        #expect(second.holder == client(2))
        #expect(events.of(.leaseAcquired).count == 2)
        #expect(events.of(.leaseReleased).first?.fields["reason"] == "released")
    }

    @Test func onlyTheHolderOrTheTokenMayReleaseOrAct() async throws {
        let table = makeTable()
        let lease = try await table.acquire(.names(["stage-0"]), for: client(1))
        #expect(throws: LabvisorError.self) { try table.release(lease.id, by: client(2)) }
        #expect(try table.authorize(client(1), for: "stage-0") == lease)
        #expect(try table.authorize(client(9), token: lease.token, for: "stage-0") == lease)
        let error = #expect(throws: LabvisorError.self) { try table.authorize(client(2), for: "stage-0") }
        #expect(error?.code == .leaseRequired)
        #expect(error?.fields["holder"] == .string(client(1).description))
        #expect(table.lease(forToken: lease.token) == lease)
        try table.release(lease.id, by: client(9), token: lease.token)
        #expect(table.lease(forToken: lease.token) == nil)
        #expect(throws: LabvisorError.self) { try table.authorize(client(1), for: "stage-0") }
        #expect(throws: LabvisorError.notFound("instrument", "nope")) { try table.authorize(client(1), for: "nope") }
    }

    @Test func revokeIsSeenByTheHolderOnItsNextCall() async throws {
        let events = EventRecorder()
        let records = Locked<[AllocationRecord]>([])
        let table = makeTable(events: events, records: records)
        let lease = try await table.acquire(.names(["stage-2"]), for: client(1))
        try table.revoke(lease.id, by: "admin (uid 0)", reason: "maintenance")
        let error = #expect(throws: LabvisorError.self) { try table.authorize(client(1), for: "stage-2") }
        #expect(error?.code == .leaseRevoked)
        #expect(error?.fields["by"] == "admin (uid 0)")
        #expect(error?.fields["reason"] == "maintenance")
        #expect(events.of(.leaseRevoked).count == 1)
        #expect(records.current.first?.releaseReason == .revoked(by: "admin (uid 0)", reason: "maintenance"))
        // The instrument is free for others at once.
        _ = try await table.acquire(.names(["stage-2"]), for: client(2), timeout: .zero)
        // Releasing the revoked lease only forgets it.
        try table.release(lease.id, by: client(1))
        #expect(throws: LabvisorError.self) { try table.release(lease.id, by: client(1)) }
    }

    @Test func multiAcquireIsAllOrNothing() async throws {
        let table = makeTable()
        _ = try await table.acquire(.names(["stage-1"]), for: client(1))
        let error = await #expect(throws: LabvisorError.self) {
            try await table.acquire(.names(["stage-0", "stage-1", "stage-2"]), for: client(2), timeout: .zero)
        }
        #expect(error?.fields["instrument"] == "stage-1")
        // Nothing was taken by the failed attempt.
        _ = try await table.acquire(.names(["stage-0", "stage-2"]), for: client(3), timeout: .zero)
    }

    @Test func acquireByQueryTakesAnyFreeMatch() async throws {
        let table = makeTable(instruments: 4)
        let query = try RequirementQuery(parsing: ["kind": "stage", "tags.room": "B12"])
        let first = try await table.acquire(.query(query, count: 1), for: client(1))
        let second = try await table.acquire(.query(query, count: 1), for: client(2))
        #expect(Set(first.instruments + second.instruments) == ["stage-0", "stage-2"])
        let error = await #expect(throws: LabvisorError.self) {
            try await table.acquire(.query(query, count: 1), for: client(3), timeout: .zero)
        }
        #expect(error?.code == .locked)
        let none = try RequirementQuery(parsing: ["kind": "laser"])
        let notFound = await #expect(throws: LabvisorError.self) { try await table.acquire(.query(none, count: 1), for: client(3)) }
        #expect(notFound?.code == .notFound)
        let two = try await table.acquire(.query(try RequirementQuery(parsing: ["tags.room": "C3"]), count: 2), for: client(4))
        #expect(two.instruments == ["stage-1", "stage-3"])
    }

    @Test func releaseAllFreesExactlyWhatTheClientHeld() async throws {
        let records = Locked<[AllocationRecord]>([])
        let table = makeTable(instruments: 6, records: records)
        let mine1 = try await table.acquire(.names(["stage-0", "stage-1"]), for: client(1))
        let mine2 = try await table.acquire(.names(["stage-4"]), for: client(1))
        let theirs = try await table.acquire(.names(["stage-2"]), for: client(2))
        try table.observe("stage-3", by: client(1))
        let waiting = Task { try await table.acquire(.names(["stage-2"]), for: client(1), timeout: .seconds(30)) }
        try await eventually { table.waiterCount == 1 }
        let ended = table.releaseAll(heldBy: client(1))
        #expect(Set(ended.map(\.leaseID)) == [mine1.id, mine2.id])
        #expect(ended.allSatisfy { $0.releaseReason == .clientDisconnected })
        let error = await #expect(throws: LabvisorError.self) { try await waiting.value }
        #expect(error?.code == .closed)
        #expect(table.leases == [theirs])
        #expect(table.status(of: "stage-3")?.observers == 0)
        for name in ["stage-0", "stage-1", "stage-4"] { #expect(table.status(of: name)?.lease == nil) }
        #expect(records.current.count == 2)
    }

    @Test func allocationRecordsCarryTheWholeStory() async throws {
        let records = Locked<[AllocationRecord]>([])
        let table = makeTable(records: records)
        let blocker = try await table.acquire(.names(["stage-0"]), for: client(1))
        let waiter = Task { try await table.acquire(.names(["stage-0"]), for: client(2), timeout: .seconds(5)) }
        try await eventually { table.waiterCount == 1 }
        try await Task.sleep(for: .milliseconds(30))
        try table.release(blocker.id, by: client(1))
        let lease = try await waiter.value
        try await Task.sleep(for: .milliseconds(20))
        try table.release(lease.id, by: client(2))
        let record = try #require(records.current.last)
        #expect(record.leaseID == lease.id)
        #expect(record.holder == client(2).description)
        #expect(record.instruments == ["stage-0"])
        #expect(record.requirements == ["names": ["stage-0"]])
        #expect(record.queueTime >= 0.025)
        #expect(record.duration >= 0.015)
        #expect(record.releaseReason == .released)
        #expect(table.history.map(\.leaseID) == [blocker.id, lease.id])
    }

    @Test func observerSeatsAreBounded() throws {
        let table = makeTable(limits: .init(observerSeats: 2))
        try table.observe("stage-0", by: client(1))
        try table.observe("stage-0", by: client(1))
        try table.observe("stage-0", by: client(2))
        let error = #expect(throws: LabvisorError.self) { try table.observe("stage-0", by: client(3)) }
        #expect(error?.code == .resourceExhausted)
        #expect(error?.fields["limit"] == "observer seats of stage-0")
        #expect(error?.fields["value"] == 2)
        #expect(table.status(of: "stage-0")?.observerSeatsLeft == 0)
        table.stopObserving("stage-0", by: client(1))
        try table.observe("stage-0", by: client(3))
    }

    @Test func waiterLimitGivesResourceExhausted() async throws {
        let table = makeTable(limits: .init(waiters: 1))
        _ = try await table.acquire(.names(["stage-0"]), for: client(1))
        let first = Task { try await table.acquire(.names(["stage-0"]), for: client(2), timeout: .seconds(30)) }
        try await eventually { table.waiterCount == 1 }
        let error = await #expect(throws: LabvisorError.self) {
            try await table.acquire(.names(["stage-0"]), for: client(3), timeout: .seconds(1))
        }
        #expect(error?.code == .resourceExhausted)
        first.cancel()
        _ = await first.result
    }

    @Test func badRequestsAreRejectedWithTheirReason() async throws {
        let table = makeTable()
        await #expect(throws: LabvisorError.notFound("instrument", "stage-9")) {
            try await table.acquire(.names(["stage-9"]), for: client(1))
        }
        let twice = await #expect(throws: LabvisorError.self) {
            try await table.acquire(.names(["stage-0", "stage-0"]), for: client(1))
        }
        #expect(twice?.code == .invalidArgument)
        let empty = await #expect(throws: LabvisorError.self) { try await table.acquire(.names([]), for: client(1)) }
        #expect(empty?.code == .invalidArgument)
    }

    @Test func unregisterRevokesAndFailsNamedWaiters() async throws {
        let table = makeTable()
        let lease = try await table.acquire(.names(["stage-0"]), for: client(1))
        let waiter = Task { try await table.acquire(.names(["stage-0"]), for: client(2), timeout: .seconds(30)) }
        try await eventually { table.waiterCount == 1 }
        table.unregister("stage-0", reason: "stage-0 removed after its grace period")
        await #expect(throws: LabvisorError.notFound("instrument", "stage-0")) { try await waiter.value }
        #expect(table.leases.isEmpty)
        #expect(table.history.first?.leaseID == lease.id)
    }
}

@Suite struct LeaseContentionTests {
    /// 200 clients with random timeouts contend for 3 instruments: no instrument is ever
    /// granted twice at once, and each instrument's waiters are served in arrival order.
    @Test func twoHundredClientsNeverDoubleGrantAndAreServedFIFO() async throws {
        let table = makeTable(instruments: 3)
        let holders = Locked<[String: UInt64]>([:])
        let arrivals = Locked<[String: [UInt64]]>([:])
        let grants = Locked<[String: [UInt64]]>([:])
        let violations = Locked(0)
        let outcomes = Locked((granted: 0, timedOut: 0))

        try await withTimeLimit(.seconds(60)) {
            await withTaskGroup(of: Void.self) { group in
                for id in UInt64(1)...200 {
                    let name = "stage-\(Int(id) % 3)"
                    let timeout = Duration.milliseconds(Int.random(in: 5...400))
                    arrivals.withLock { $0[name, default: []].append(id) }
                    group.addTask {
                        do {
                            let lease = try await table.acquire(.names([name]), for: client(id), timeout: timeout)
                            let clash = holders.withLock { (h: inout [String: UInt64]) -> Bool in
                                defer { h[name] = id }
                                return h[name] != nil
                            }
                            if clash { violations.withLock { $0 += 1 } }
                            grants.withLock { $0[name, default: []].append(id) }
                            try? await Task.sleep(for: .microseconds(Int.random(in: 100...2000)))
                            holders.withLock { $0[name] = nil }
                            try table.release(lease.id, by: client(id))
                            outcomes.withLock { $0.granted += 1 }
                        } catch let error as LabvisorError {
                            #expect(error.code == .timeout)
                            outcomes.withLock { $0.timedOut += 1 }
                        } catch {
                            Issue.record("unexpected \(error)")
                        }
                    }
                    // The next client arrives only once the table has taken this request
                    // (granted or queued), so arrival order is known.
                    while table.requestsSeen < Int(id) { await Task.yield() }
                }
            }
        }
        #expect(violations.current == 0)
        #expect(outcomes.current.granted + outcomes.current.timedOut == 200)
        #expect(outcomes.current.granted > 3)
        // FIFO: the order of grants per instrument is a subsequence of the arrival order.
        for (name, granted) in grants.current {
            let order = arrivals.current[name]!
            let positions = granted.map { order.firstIndex(of: $0)! }
            #expect(positions == positions.sorted(), "grants of \(name) out of arrival order")
        }
        #expect(table.leases.isEmpty && table.waiterCount == 0)
    }

    /// Clients take random pairs of instruments (all or nothing) in random order; with
    /// hold-and-wait impossible, everyone finishes.
    @Test func multiAcquireUnderContentionNeverDeadlocks() async throws {
        let table = makeTable(instruments: 4)
        let held = Locked<Set<String>>([])
        let violations = Locked(0)
        let done = Locked(0)
        try await withTimeLimit(.seconds(60)) {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for id in UInt64(1)...64 {
                    group.addTask {
                        for _ in 0..<20 {
                            let names = Array(["stage-0", "stage-1", "stage-2", "stage-3"].shuffled().prefix(Int.random(in: 2...3)))
                            let lease = try await table.acquire(.names(names), for: client(id), timeout: .seconds(30))
                            let clash = held.withLock { (h: inout Set<String>) -> Bool in
                                let clash = !h.isDisjoint(with: names)
                                h.formUnion(names)
                                return clash
                            }
                            if clash { violations.withLock { $0 += 1 } }
                            await Task.yield()
                            held.withLock { $0.subtract(names) }
                            try table.release(lease.id, by: client(id))
                        }
                        done.withLock { $0 += 1 }
                    }
                }
                try await group.waitForAll()
            }
        }
        #expect(violations.current == 0)
        #expect(done.current == 64)
        #expect(table.leases.isEmpty)
    }
}

