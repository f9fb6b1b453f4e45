/// One subscriber's view of an `EventBus`: an asynchronous sequence of the events its filter
/// accepts, in bus order. If the subscriber reads too slowly, its buffer keeps only the newest
/// events and the next read first yields a `gap` event whose `fields["missed"]` says how many
/// were dropped (its `sequence` is that of the event following it). Gap events are delivered
/// whatever the filter's kinds.
///
/// Only one `next()` may be in flight per subscription at a time; a second `next()` that would
/// wait while another one is waiting traps with a precondition failure. `next()` returns `nil`
/// when the calling task is cancelled (buffered events stay for a later iterator), after
/// `cancel()`, and after `EventBus.finish()` once the buffer is drained. An iterator that
/// returned `nil` keeps returning `nil`.
///
/// The subscription unregisters itself on `cancel()` or when its last reference (the
/// subscription or one of its iterators) goes away.
public final class EventSubscription: AsyncSequence, Sendable {
    /// Subscriptions never throw.
    public typealias Failure = Never
    /// The events delivered.
    public typealias Element = Event

    private let bus: EventBus
    let channel: EventChannel

    init(bus: EventBus, channel: EventChannel) {
        self.bus = bus
        self.channel = channel
    }

    deinit { cancel() }

    /// Ends the subscription now: buffered events are discarded, a waiting `next()` returns
    /// `nil`, and the bus stops delivering to it. Idempotent.
    public func cancel() {
        bus.unregister(channel)
        channel.close(discard: true)?.resume(returning: nil)
    }

    /// Ends the subscription but keeps what is buffered: the bus stops delivering to it, and
    /// the reader gets the buffered events, then `nil`. Idempotent.
    public func finish() {
        bus.unregister(channel)
        channel.close(discard: false)?.resume(returning: nil)
    }

    /// Takes up to `limit` of the events buffered now, in order (a `gap` event first after
    /// drops), without waiting: a reader woken by one event takes what came with it, and
    /// handles them as one batch. Empty when nothing is buffered. Do not call it while a
    /// `next()` of the same subscription is in flight.
    public func takeBuffered(limit: Int) -> [Event] {
        channel.take(limit)
    }

    /// Total events dropped for this subscriber so far because its buffer was full.
    public var missed: Int { channel.missed }

    /// Events currently buffered for this subscriber (at most its buffer size; a pending gap
    /// event is not counted).
    public var bufferedCount: Int { channel.bufferedCount }

    /// Whether a `next()` is currently suspended waiting for an event (for tests).
    var hasWaiter: Bool { channel.hasWaiter }

    /// Returns an iterator over the subscription's events. It keeps the subscription alive.
    public func makeAsyncIterator() -> Iterator {
        Iterator(subscription: self)
    }

    /// Iterates a subscription; see `EventSubscription` for the rules.
    public struct Iterator: AsyncIteratorProtocol {
        /// Iterators never throw.
        public typealias Failure = Never

        private let subscription: EventSubscription
        private var isDone = false

        init(subscription: EventSubscription) { self.subscription = subscription }

        /// The next event, waiting (cancellably) until one is published; `nil` at the end.
        public mutating func next(isolation actor: isolated (any Actor)? = #isolation) async -> Event? {
            if isDone { return nil }
            let event = await subscription.channel.receive(isolation: actor)
            if event == nil { isDone = true }
            return event
        }

        /// The next event, waiting (cancellably) until one is published; `nil` at the end.
        public mutating func next() async -> Event? {
            await next(isolation: nil)
        }
    }
}
