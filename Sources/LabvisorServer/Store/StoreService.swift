import Foundation
import LabvisorCore
import LabvisorHardware
import LabvisorProtocol
import Logging
import ServiceLifecycle

/// Writes the daemon's state store off the request path, as a service of the daemon's
/// `ServiceGroup`.
///
/// - What the request path hands over (`record(_:)`: allocation records from the lease
///   table's `recordSink`, audit entries) is queued without waiting (`StoreQueue`).
/// - Instrument events (`instrumentAdded`, `stateChanged`) come from an `EventBus`
///   subscription taken when the service is created, so nothing published before `run()`
///   is missed.
/// - One task writes what has gathered over `gatherWindow` after the first record, up to
///   `batchSize` records per transaction, on one `WorkerThread` (no thread started per batch).
/// - With a `retention`, the same writer removes older allocation records and audit entries
///   when it starts and then at most once per `pruneInterval`, after a batch
///   (`StateStore.prune(before:on:)`).
/// - On graceful shutdown it queues the events still buffered, writes everything queued,
///   then returns; on cancellation it writes what is queued. Put
///   it first in the group's services: the group shuts services down in reverse order, so
///   the store goes last and records the leases that the others' shutdown ended.
///
/// Allocation records come through the sink, not through `leaseReleased` events, because a
/// subscriber that falls behind loses the oldest events (`gap`); the sink loses nothing and
/// carries the whole record (requirements, queue time).
public final class StoreService: Service, Sendable {
    /// The database.
    public let store: StateStore
    /// The most records per transaction.
    public let batchSize: Int
    /// How long the writer gathers records after the first before it writes them.
    public let gatherWindow: Duration
    /// How long allocation records and audit entries are kept; `nil`: for ever.
    public let retention: Duration?
    /// How often, at most, records older than `retention` are removed.
    public let pruneInterval: Duration
    private let queue: StoreQueue
    private let subscription: EventSubscription
    private let endings = LockedState<Set<Ending>>([])
    private let logger: Logger

    /// Creates the service and subscribes to `events` at once.
    ///
    /// - Parameters:
    ///   - queueCapacity: records waiting at most (past it the oldest are dropped and logged).
    ///   - retention: how long records are kept (`[daemon] history_days`); `nil`: for ever.
    public init(
        store: StateStore, events: EventBus, batchSize: Int = 256, gatherWindow: Duration = .milliseconds(50), queueCapacity: Int = 100_000,
        retention: Duration? = nil, pruneInterval: Duration = .seconds(3_600), logger: Logger
    ) {
        self.store = store
        self.batchSize = max(1, batchSize)
        self.gatherWindow = gatherWindow
        self.retention = retention
        self.pruneInterval = pruneInterval
        self.queue = StoreQueue(capacity: queueCapacity)
        self.subscription = events.subscribe(EventFilter(kinds: [.instrumentAdded, .stateChanged]), bufferSize: 16_384)
        self.logger = logger
    }

    /// Queues a record for writing; never waits.
    public func record(_ record: StoreRecord) {
        queue.append(record)
    }

    /// The lease table's `recordSink`: queues each ended lease's record.
    public var allocationSink: @Sendable (AllocationRecord) -> Void {
        let queue = self.queue
        return { queue.append(.allocation($0)) }
    }

    /// Records waiting to be written now.
    public var pendingCount: Int { queue.count }

    public func run() async throws {
        // Handlers, not `gracefulShutdown()`: its waiter can miss a cancellation that arrives
        // while it starts (seen under ThreadSanitizer), and the store must always flush.
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await withDiscardingTaskGroup { group in
                    group.addTask { await self.writeUntilFinished() }
                    // Until the subscription ends (stop, the bus finishing, cancellation) and its
                    // buffered events are queued.
                    await self.forwardEvents()
                    self.end(.eventsForwarded)
                }
            } onGracefulShutdown: {
                self.stop()
            }
        } onCancel: {
            self.stop()
        }
        if queue.dropped > 0 {
            logger.error("state store: \(queue.dropped) records were dropped because the write queue was full")
        }
        store.close()
    }

    /// Ends the event subscription (its buffered events are still queued); the writer drains
    /// the queue and returns once the events are forwarded too.
    private func stop() {
        subscription.finish()
        end(.stopRequested)
    }

    /// The two things that end the writer: a stop (graceful shutdown or cancellation) and the
    /// end of event forwarding. The bus alone finishing (the supervisor's shutdown) does not
    /// end it: leases that end later are still written.
    private enum Ending { case stopRequested, eventsForwarded }

    private func end(_ ending: Ending) {
        let both = endings.withLock { endings in
            endings.insert(ending)
            return endings.count == 2
        }
        if both { queue.finish() }
    }

    /// Turns instrument events into store records.
    private func forwardEvents() async {
        for await event in subscription {
            switch event.kind {
            case .instrumentAdded:
                guard let name = event.instrument else { continue }
                let identity = event.fields["identity"]?.string ?? "config:\(name)"
                let driver = event.fields["driver"]?.string ?? ""
                queue.append(.instrumentSeen(InstrumentSighting(identity: identity, name: name, driver: driver, at: event.time)))
            case .stateChanged:
                guard let name = event.instrument else { continue }
                queue.append(.instrumentActive(name: name, at: event.time))
            case .gap:
                logger.warning("state store: \(event.fields["missed"]?.number.map { Int($0) } ?? 0) instrument events were missed")
            default:
                continue
            }
        }
    }

    /// Writes batches until the queue is finished and drained.
    private func writeUntilFinished() async {
        let writer: WorkerThread?
        do {
            writer = try WorkerThread("state store writer")
        } catch {
            logger.warning("state store: \(error); each batch is written on a thread of its own")
            writer = nil
        }
        defer { writer?.finish() }
        var nextPrune = ContinuousClock.now
        await prune(on: writer, ifDue: &nextPrune)
        while true {
            var batch = await queue.next(limit: batchSize)
            if batch.isEmpty { return }
            // Records come in bursts (a lease ends per call of a script's loop): gather for a
            // moment, so a transaction carries many, not one each.
            if batch.count < batchSize, !queue.isFinished, (try? await Task.sleep(for: gatherWindow)) != nil {
                batch += queue.take(limit: batchSize - batch.count) ?? []
            }
            // The writer does not check for cancellation: a cancelled service still writes its
            // last batches.
            do {
                try await store.write(batch, on: writer)
            } catch {
                logger.error("state store: \(error) (\(batch.count) records lost)")
            }
            await prune(on: writer, ifDue: &nextPrune)
        }
    }

    /// Removes the records older than `retention` when `nextPrune` has come, and sets the next.
    private func prune(on writer: WorkerThread?, ifDue nextPrune: inout ContinuousClock.Instant) async {
        guard let retention, ContinuousClock.now >= nextPrune else { return }
        nextPrune = ContinuousClock.now + pruneInterval
        let cutoff = Date(timeIntervalSinceNow: -retention.seconds)
        do {
            let pruned = try await store.prune(before: cutoff, on: writer)
            if pruned.allocations + pruned.auditEntries > 0 {
                logger.info("state store: removed \(pruned.allocations) allocation records and \(pruned.auditEntries) audit entries older than \(cutoff) (history_days)")
            }
        } catch {
            logger.error("state store: \(error)")
        }
    }
}
