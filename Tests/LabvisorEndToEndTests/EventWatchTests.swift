import Foundation
import Testing

@testable import LabvisorClient

/// `EventWatch` alone (batches, drops and gaps, the end, cancellation), then the event
/// fan-out end to end: the daemon's batched writes and the client's layout reader deliver
/// every event, in order, to several watchers.
@Suite("EventWatchTests", .timeLimit(.minutes(2)))
struct EventWatchTests {
    /// Hands `events` to `watch` as the connection does for one read.
    func deliver(_ events: [Event], to watch: EventWatch) {
        for event in events { watch.keep(event) }
        watch.handOver()
    }

    func ticks(_ values: ClosedRange<Int>) -> [Event] {
        values.map { Event(kind: .propertyChanged, instrument: "loopback", fields: ["value": .int($0)], sequence: UInt64($0)) }
    }

    @Test func readsBatchesInOrderReportsDropsAsAGapAndEndsAfterTheLast() async {
        let watch = EventWatch(capacity: 5) {}
        var iterator = watch.makeAsyncIterator()
        deliver(ticks(1...3), to: watch)
        #expect(await iterator.next()?.sequence == 1)
        deliver(ticks(4...9), to: watch)  // 4...9 waiting, 5 kept: 5...9, 4 dropped
        #expect(await iterator.next()?.sequence == 2, "the batch taken before the drop is the reader's")
        #expect(await iterator.next()?.sequence == 3)
        let gap = await iterator.next()
        #expect(gap?.kind == .gap && gap?.fields["missed"] == .int(1) && gap?.sequence == 5)
        #expect(await iterator.next()?.sequence == 5)
        deliver(ticks(10...10), to: watch)
        watch.finish()
        var rest: [UInt64] = []
        while let event = await iterator.next() { rest.append(event.sequence) }
        #expect(rest == [6, 7, 8, 9, 10])
        #expect(await iterator.next() == nil)
        #expect(watch.missed == 1)
    }

    @Test func aWaitingReaderWakesOnDeliveryAndEndsWhenItsTaskIsCancelled() async throws {
        let watch = EventWatch(capacity: 100) {}
        let reader = Task { () -> [UInt64] in
            var seen: [UInt64] = []
            for await event in watch { seen.append(event.sequence) }
            return seen
        }
        try await Task.sleep(for: .milliseconds(50))
        deliver(ticks(1...2), to: watch)
        try await Task.sleep(for: .milliseconds(50))
        reader.cancel()
        let seen = await reader.value
        #expect(seen == [1, 2])
    }

    @Test func cancelEndsTheReaderAndStopsListeningOnce() async throws {
        let stops = LockedState(0)
        let watch = EventWatch(capacity: 100) { stops.withLock { $0 += 1 } }
        let reader = Task { () -> Int in
            var count = 0
            for await _ in watch { count += 1 }
            return count
        }
        try await Task.sleep(for: .milliseconds(50))
        watch.cancel()
        watch.cancel()
        #expect(await reader.value == 0)
        deliver(ticks(1...3), to: watch)  // after the end: ignored
        var iterator = watch.makeAsyncIterator()
        #expect(await iterator.next() == nil)
        #expect(stops.withLock { $0 } == 1)
    }

    @Test func everyEventReachesEveryWatcherInOrderThroughTheDaemon() async throws {
        let daemon = try await DaemonProcess(loopback: true)
        let producer = try await daemon.connect()
        var watchers: [Labvisor] = []
        var readers: [Task<(values: [Int], missed: Int), Never>] = []
        let count = 5_000
        for _ in 0..<3 {
            let watcher = try await daemon.connect()
            let events = try await watcher.watch(kinds: [.propertyChanged], instruments: ["loopback"], buffer: count)
            watchers.append(watcher)
            readers.append(Task {
                var values: [Int] = []
                var missed = 0
                for await event in events {
                    if event.kind == .gap { missed += Int(event.fields["missed"]?.number ?? 0) }
                    guard case .int(let value)? = event.fields["value"] else { continue }
                    values.append(value)
                    if value == count { break }
                }
                return (values, missed)
            })
        }
        // Paced so that no buffer on the way should overflow; if one does on a loaded machine
        // (or under ThreadSanitizer), its gap events must account for every event missing.
        try await producer.invoke("loopback", "emitEvents", ["count": .int(count), "perSecond": 2_500], timeout: .seconds(30))
        let running = readers
        let limit = Task {
            try await Task.sleep(for: .seconds(30))
            for reader in running { reader.cancel() }
        }
        for reader in running {
            let (values, missed) = await reader.value
            #expect(values.last == count)
            #expect(values.count + missed == count, "every event arrives or is reported missing")
            #expect(zip(values, values.dropFirst()).allSatisfy { $0 < $1 }, "in order")
        }
        limit.cancel()
        for watcher in watchers { await watcher.close() }
        await producer.close()
        #expect(try await daemon.stop() == 0, "\(daemon.logText)")
    }
}
