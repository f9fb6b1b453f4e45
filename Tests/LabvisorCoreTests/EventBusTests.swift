import Foundation
import Testing

@testable import LabvisorCore

/// How a race against a timeout ended.
private enum Outcome<T: Sendable>: Sendable {
    case value(T)
    case timedOut
}

/// Runs `body`, giving up (and cancelling it) after `seconds`.
private func withTimeout<T: Sendable>(
    _ seconds: Double = 5, _ body: @escaping @Sendable () async -> T
) async -> Outcome<T> {
    await withTaskGroup(of: Outcome<T>.self) { group in
        group.addTask { .value(await body()) }
        group.addTask {
            try? await Task.sleep(for: .seconds(seconds))
            return .timedOut
        }
        let first = await group.next()!
        group.cancelAll()
        return first
    }
}

/// Waits (cancellably, bounded) until a `next()` on `subscription` is suspended.
private func waitUntilWaiting(_ subscription: EventSubscription) async throws {
    for _ in 0..<2_000 where !subscription.hasWaiter {
        try await Task.sleep(for: .milliseconds(1))
    }
    try #require(subscription.hasWaiter)
}

/// Reads until the subscription ends (bounded by a timeout).
private func drain(_ subscription: EventSubscription) async throws -> [Event] {
    let outcome = await withTimeout {
        var events: [Event] = []
        for await event in subscription { events.append(event) }
        return events
    }
    guard case .value(let events) = outcome else {
        Issue.record("draining timed out")
        throw CancellationError()
    }
    return events
}

@Suite struct EventBusTests {
    @Test func finishedSubscriptionKeepsItsBufferedEventsThenEnds() async throws {
        let bus = EventBus()
        let subscription = bus.subscribe()
        bus.publish(Event(kind: .instrumentAdded, instrument: "a"))
        bus.publish(Event(kind: .instrumentAdded, instrument: "b"))
        subscription.finish()
        bus.publish(Event(kind: .instrumentAdded, instrument: "c"))
        #expect(bus.subscriberCount == 0)
        #expect(try await drain(subscription).map(\.instrument) == ["a", "b"])
    }

    @Test func filterAcceptsByKindAndInstrument() {
        let stateOnly = EventFilter(kinds: [.stateChanged])
        #expect(stateOnly.accepts(Event(kind: .stateChanged, instrument: "x")))
        #expect(stateOnly.accepts(Event(kind: .stateChanged)))
        #expect(!stateOnly.accepts(Event(kind: .leaseAcquired)))
        let stageX = EventFilter(instruments: ["stage-x"])
        #expect(stageX.accepts(Event(kind: .leaseAcquired, instrument: "stage-x")))
        #expect(!stageX.accepts(Event(kind: .leaseAcquired, instrument: "stage-y")))
        #expect(!stageX.accepts(Event(kind: .leaseAcquired)))
        #expect(EventFilter.all.accepts(Event(kind: .gap)))
        #expect(EventFilter.all == EventFilter())
    }

    @Test func everySubscriberSeesBusOrderAndSequences() async throws {
        let bus = EventBus()
        let first = bus.subscribe()
        let second = bus.subscribe()
        #expect(bus.subscriberCount == 2)
        let kinds: [Event.Kind] = [.instrumentAdded, .stateChanged, .leaseAcquired, .propertyChanged, .leaseReleased]
        let time = Date(timeIntervalSince1970: 1_000)
        for (index, kind) in kinds.enumerated() {
            bus.publish(Event(kind: kind, instrument: "i\(index)", fields: ["n": .int(index)], sequence: 99, time: time))
        }
        bus.finish()
        for subscription in [first, second] {
            let events = try await drain(subscription)
            #expect(events.map(\.sequence) == [1, 2, 3, 4, 5])
            #expect(events.map(\.kind) == kinds)
            #expect(events.map(\.instrument) == ["i0", "i1", "i2", "i3", "i4"])
            #expect(events.map { $0.fields["n"] } == (0..<5).map { JSONValue.int($0) })
            #expect(events.allSatisfy { $0.time == time })
        }
    }

    @Test func filtersByKindInstrumentAndNilInstrument() async throws {
        let bus = EventBus()
        let states = bus.subscribe(EventFilter(kinds: [.stateChanged]))
        let stage = bus.subscribe(EventFilter(instruments: ["stage"]))
        let stageStates = bus.subscribe(EventFilter(kinds: [.stateChanged], instruments: ["stage"]))
        let everything = bus.subscribe()
        bus.publish(Event(kind: .stateChanged, instrument: "stage"))  // 1
        bus.publish(Event(kind: .leaseAcquired, instrument: "stage"))  // 2
        bus.publish(Event(kind: .stateChanged, instrument: "camera"))  // 3
        bus.publish(Event(kind: .stateChanged))  // 4: no instrument
        bus.publish(Event(kind: .callFailed))  // 5: no instrument
        bus.finish()
        #expect(try await drain(states).map(\.sequence) == [1, 3, 4])
        #expect(try await drain(stage).map(\.sequence) == [1, 2])
        #expect(try await drain(stageStates).map(\.sequence) == [1])
        #expect(try await drain(everything).map(\.sequence) == [1, 2, 3, 4, 5])
        // Filtered-out events are not "missed".
        #expect(states.missed == 0 && stage.missed == 0)
    }

    @Test func slowSubscriberGetsGapThenNewestEvents() async throws {
        let bus = EventBus()
        let slow = bus.subscribe(bufferSize: 4)
        let fast = bus.subscribe(bufferSize: 1000)
        for index in 1...100 { bus.publish(Event(kind: .propertyChanged, fields: ["i": .int(index)])) }
        #expect(slow.missed == 96)
        #expect(slow.bufferedCount == 4)
        bus.finish()
        let events = try await drain(slow)
        try #require(events.count == 5)
        #expect(events[0].kind == .gap)
        #expect(events[0].fields == ["missed": .int(96)])
        #expect(events[0].instrument == nil)
        #expect(events[0].sequence == 97)
        #expect(events.dropFirst().map(\.sequence) == [97, 98, 99, 100])
        #expect(events.dropFirst().map { $0.fields["i"] } == [97, 98, 99, 100].map { JSONValue.int($0) })
        #expect(slow.missed == 96)
        let all = try await drain(fast)
        #expect(all.map(\.sequence) == Array(1...100))
        #expect(fast.missed == 0)
    }

    @Test func gapReportsOnlyDropsSinceLastRead() async throws {
        let bus = EventBus()
        let slow = bus.subscribe(bufferSize: 2)
        var iterator = slow.makeAsyncIterator()
        for _ in 1...5 { bus.publish(Event(kind: .stateChanged)) }  // keeps 4, 5; missed 3
        let gap = await iterator.next()
        #expect(gap?.kind == .gap && gap?.fields["missed"] == .int(3) && gap?.sequence == 4)
        #expect(await iterator.next()?.sequence == 4)
        for _ in 6...8 { bus.publish(Event(kind: .stateChanged)) }  // buffer 5, 6, 7, 8 -> keeps 7, 8
        let second = await iterator.next()
        #expect(second?.kind == .gap && second?.fields["missed"] == .int(2) && second?.sequence == 7)
        #expect(await iterator.next()?.sequence == 7)
        #expect(await iterator.next()?.sequence == 8)
        #expect(slow.missed == 5)
    }

    @Test func takeBufferedGivesTheGapThenEventsInOrderWithoutWaiting() async throws {
        let bus = EventBus()
        let subscription = bus.subscribe(bufferSize: 4)
        #expect(subscription.takeBuffered(limit: 10).isEmpty)  // empty: returns at once
        for index in 1...6 { bus.publish(Event(kind: .propertyChanged, fields: ["i": .int(index)])) }  // keeps 3...6
        let first = subscription.takeBuffered(limit: 2)
        #expect(first.map(\.kind) == [.gap, .propertyChanged])
        #expect(first[0].fields["missed"] == .int(2) && first[1].sequence == 3)
        #expect(subscription.takeBuffered(limit: 10).map(\.sequence) == [4, 5, 6])
        #expect(subscription.takeBuffered(limit: 10).isEmpty)
        // A reader that then waits is woken by the next publish, and a batch reader reads on.
        var iterator = subscription.makeAsyncIterator()
        bus.publish(Event(kind: .stateChanged))
        bus.publish(Event(kind: .stateChanged))
        #expect(await iterator.next()?.sequence == 7)
        #expect(subscription.takeBuffered(limit: 10).map(\.sequence) == [8])
        bus.finish()
        #expect(subscription.takeBuffered(limit: 10).isEmpty)
        #expect(await iterator.next() == nil)
    }

    @Test func memoryIsBoundedForNonReadingSubscriber() {
        let bus = EventBus()
        let idle = bus.subscribe(bufferSize: 16)
        for _ in 0..<100_000 { bus.publish(Event(kind: .propertyChanged, instrument: "sensor")) }
        #expect(idle.bufferedCount == 16)
        #expect(idle.missed == 100_000 - 16)
    }

    @Test func waitingNextWakesOnPublish() async throws {
        let bus = EventBus()
        let subscription = bus.subscribe()
        let reader = Task { () -> Event? in
            var iterator = subscription.makeAsyncIterator()
            return await iterator.next()
        }
        try await waitUntilWaiting(subscription)
        bus.publish(Event(kind: .leaseAcquired, instrument: "stage"))
        let outcome = await withTimeout { await reader.value }
        guard case .value(let event) = outcome else {
            reader.cancel()
            Issue.record("waiting next() was not woken by publish")
            return
        }
        #expect(event?.kind == .leaseAcquired)
        #expect(event?.sequence == 1)
        #expect(!subscription.hasWaiter)
        #expect(subscription.bufferedCount == 0)
    }

    @Test func cancellingTheReadingTaskEndsNextPromptly() async throws {
        let bus = EventBus()
        let subscription = bus.subscribe()
        let reader = Task { () -> [Event] in
            var events: [Event] = []
            for await event in subscription { events.append(event) }
            return events
        }
        try await waitUntilWaiting(subscription)
        reader.cancel()
        let outcome = await withTimeout(2) { await reader.value }
        guard case .value(let events) = outcome else {
            Issue.record("cancelled next() did not return")
            return
        }
        #expect(events.isEmpty)
        #expect(!subscription.hasWaiter)  // the continuation was not left behind
        // The subscription itself survives and can be read again from another task.
        bus.publish(Event(kind: .stateChanged))
        var iterator = subscription.makeAsyncIterator()
        #expect(await iterator.next()?.sequence == 1)
    }

    @Test func alreadyCancelledTaskGetsNil() async {
        let bus = EventBus()
        let subscription = bus.subscribe()
        let reader = Task { () -> Event? in
            withUnsafeCurrentTask { $0?.cancel() }
            var iterator = subscription.makeAsyncIterator()
            return await iterator.next()
        }
        let outcome = await withTimeout(2) { await reader.value }
        guard case .value(let event) = outcome else {
            Issue.record("next() in a cancelled task did not return")
            return
        }
        #expect(event == nil)
    }

    /// Publishers skip building events of kinds no live subscription accepts (the state
    /// store's instrument-only subscription must not make every lease build its events).
    @Test func isObservedPerKindFollowsTheLiveSubscriptions() {
        let bus = EventBus()
        #expect(Event.Kind.allCases.allSatisfy { !bus.isObserved($0) })
        let instruments = bus.subscribe(EventFilter(kinds: [.instrumentAdded, .stateChanged]))
        #expect(bus.isObserved(.instrumentAdded) && bus.isObserved(.stateChanged))
        #expect(!bus.isObserved(.leaseAcquired) && !bus.isObserved(.leaseReleased) && !bus.isObserved(.propertyChanged))
        let leases = bus.subscribe(EventFilter(kinds: [.leaseReleased], instruments: ["stage-x"]))
        #expect(bus.isObserved(.leaseReleased) && !bus.isObserved(.leaseAcquired))
        leases.cancel()
        #expect(!bus.isObserved(.leaseReleased) && bus.isObserved(.stateChanged))
        let everything = bus.subscribe()
        #expect(Event.Kind.allCases.allSatisfy { bus.isObserved($0) })
        everything.cancel()
        instruments.cancel()
        #expect(Event.Kind.allCases.allSatisfy { !bus.isObserved($0) })
        // Every kind has a bit of its own.
        #expect(Set(Event.Kind.allCases.map(\.bit)).count == Event.Kind.allCases.count)
        _ = bus.subscribe()
        bus.finish()
        #expect(!bus.isObserved(.stateChanged))
    }

    @Test func cancelAndDeinitUnregister() async throws {
        let bus = EventBus()
        let kept = bus.subscribe()
        let cancelled = bus.subscribe()
        do {
            let temporary = bus.subscribe()
            #expect(bus.subscriberCount == 3)
            _ = temporary.missed
        }
        #expect(bus.subscriberCount == 2)

        // cancel() wakes a waiting reader with nil and unregisters.
        let reader = Task { () -> Event? in
            var iterator = cancelled.makeAsyncIterator()
            return await iterator.next()
        }
        try await waitUntilWaiting(cancelled)
        cancelled.cancel()
        #expect(bus.subscriberCount == 1)
        let outcome = await withTimeout(2) { await reader.value }
        guard case .value(let event) = outcome else {
            Issue.record("cancel() did not end the waiting next()")
            return
        }
        #expect(event == nil)
        bus.publish(Event(kind: .stateChanged))
        #expect(cancelled.bufferedCount == 0)
        #expect(kept.bufferedCount == 1)
        cancelled.cancel()  // idempotent
        #expect(bus.subscriberCount == 1)
    }

    @Test func iteratorKeepsSubscriptionAlive() async throws {
        let bus = EventBus()
        var iterator = bus.subscribe().makeAsyncIterator()
        #expect(bus.subscriberCount == 1)
        bus.publish(Event(kind: .stateChanged))
        #expect(await iterator.next()?.sequence == 1)
        #expect(bus.subscriberCount == 1)
    }

    @Test func finishDrainsThenEnds() async throws {
        let bus = EventBus()
        let waiting = bus.subscribe()
        let reader = Task { () -> Event? in
            var iterator = waiting.makeAsyncIterator()
            return await iterator.next()
        }
        try await waitUntilWaiting(waiting)
        let buffered = bus.subscribe()
        for _ in 0..<3 { bus.publish(Event(kind: .stateChanged)) }
        bus.finish()
        #expect(bus.subscriberCount == 0)

        let first = await withTimeout(2) { await reader.value }
        guard case .value(let event) = first else {
            Issue.record("finish() did not wake the waiting reader")
            return
        }
        #expect(event?.sequence == 1)  // it was waiting, so the first publish went straight to it

        #expect(try await drain(buffered).map(\.sequence) == [1, 2, 3])
        #expect(try await drain(waiting).map(\.sequence) == [2, 3])

        bus.publish(Event(kind: .stateChanged))  // ignored
        let late = bus.subscribe()
        #expect(bus.subscriberCount == 0)
        #expect(try await drain(late).isEmpty)
        #expect(late.bufferedCount == 0)
    }

    @Test func finishWakesIdleReaderWithNil() async throws {
        let bus = EventBus()
        let subscription = bus.subscribe()
        let reader = Task { () -> Event? in
            var iterator = subscription.makeAsyncIterator()
            return await iterator.next()
        }
        try await waitUntilWaiting(subscription)
        bus.finish()
        let outcome = await withTimeout(2) { await reader.value }
        guard case .value(let event) = outcome else {
            Issue.record("finish() did not end the waiting next()")
            return
        }
        #expect(event == nil)
    }

    @Test func concurrentPublishersDeliverEverythingInOrder() async throws {
        let bus = EventBus()
        let publishers = 8
        let perPublisher = 10_000
        let total = publishers * perPublisher
        let subscription = bus.subscribe(bufferSize: total)
        let reader = Task { () -> [Event] in
            var events: [Event] = []
            events.reserveCapacity(total)
            for await event in subscription {
                events.append(event)
                if events.count == total { break }
            }
            return events
        }
        await withTaskGroup(of: Void.self) { group in
            for publisher in 0..<publishers {
                group.addTask {
                    for index in 0..<perPublisher {
                        bus.publish(Event(kind: .propertyChanged, instrument: "p\(publisher)", fields: ["i": .int(index)]))
                    }
                }
            }
        }
        let outcome = await withTimeout(30) { await reader.value }
        guard case .value(let events) = outcome else {
            reader.cancel()
            Issue.record("reader did not receive all events")
            return
        }
        #expect(events.count == total)
        #expect(!events.contains { $0.kind == .gap })
        #expect(subscription.missed == 0)
        #expect(zip(events, events.dropFirst()).allSatisfy { $0.sequence < $1.sequence })
        #expect(events.first?.sequence == 1)
        #expect(events.last?.sequence == UInt64(total))
        // Per publisher, its own events arrive in the order it published them.
        for publisher in 0..<publishers {
            let indices = events.filter { $0.instrument == "p\(publisher)" }.compactMap { $0.fields["i"] }
            #expect(indices == (0..<perPublisher).map { JSONValue.int($0) })
        }
    }
}
