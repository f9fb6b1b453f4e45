import Foundation

/// An event as it travels (DESIGN.md "Events").
public struct WireEvent: Codable, Sendable, Hashable {
    /// Position in the daemon's total order.
    public var sequence: UInt64
    /// When it happened (seconds since 1970).
    public var time: Double
    /// What happened (`stateChanged`, `leaseAcquired`, `gap`, ...).
    public var kind: Event.Kind
    /// The instrument it concerns.
    public var instrument: String?
    /// Details, by kind.
    public var fields: [String: JSONValue]

    /// The wire form of `event`.
    public init(_ event: Event) {
        sequence = event.sequence
        time = event.time.timeIntervalSince1970
        kind = event.kind
        instrument = event.instrument
        fields = event.fields
    }

    /// The core event.
    public var event: Event {
        Event(kind: kind, instrument: instrument, fields: fields, sequence: sequence, time: Date(timeIntervalSince1970: time))
    }
}

/// `events.watch`: subscribes this connection to events.
public enum WatchEvents: WireMethod {
    /// Parameters: a filter; absent members match everything.
    public struct Params: Codable, Sendable, Hashable {
        /// Only these kinds.
        public var kinds: [Event.Kind]?
        /// Only events about these instruments.
        public var instruments: [String]?
        /// Creates parameters.
        public init(kinds: [Event.Kind]? = nil, instruments: [String]? = nil) {
            self.kinds = kinds
            self.instruments = instruments
        }
    }
    /// Result.
    public struct Result: Codable, Sendable, Hashable {
        /// The subscription id, carried by every `event` notification it causes.
        public var subscription: Int
        /// Creates a result.
        public init(subscription: Int) { self.subscription = subscription }
    }
    public static let name = "events.watch"
    public static let summary = """
        Subscribes to events; they arrive as `event` notifications. A subscriber that reads too \
        slowly gets a `gap` event saying how many it missed, never unbounded buffering.
        """
    public static let errors: [ErrorCode] = [.resourceExhausted]
    public static let exampleParams = Params(kinds: [.stateChanged, .callFailed], instruments: ["stage-x"])
    public static let exampleResult = Result(subscription: 1)
}

/// `events.unwatch`: ends a subscription.
public enum UnwatchEvents: WireMethod {
    /// Parameters.
    public struct Params: Codable, Sendable, Hashable {
        /// The subscription id from `events.watch`.
        public var subscription: Int
        /// Creates parameters.
        public init(subscription: Int) { self.subscription = subscription }
    }
    public typealias Result = Empty
    public static let name = "events.unwatch"
    public static let summary = "Ends a subscription made with `events.watch` (closing the connection ends them all)."
    public static let errors: [ErrorCode] = [.notFound]
    public static let exampleParams = Params(subscription: 1)
    public static let exampleResult = Empty()
}

/// `event`: one event for a subscription.
public enum EventNotification: WireNotification {
    /// Parameters.
    public struct Params: Codable, Sendable, Hashable {
        /// The subscription (from `events.watch`).
        public var subscription: Int
        /// The event.
        public var event: WireEvent
        /// Creates parameters.
        public init(subscription: Int, event: WireEvent) {
            self.subscription = subscription
            self.event = event
        }
    }
    public static let name = "event"
    public static let summary = "An event for a subscription made with `events.watch`."
    public static let exampleParams = Params(
        subscription: 1,
        event: WireEvent(Event(
            kind: .stateChanged, instrument: "stage-x", fields: ["from": "ready", "to": "busy", "reason": "call home"],
            sequence: 812, time: Date(timeIntervalSince1970: 1_790_000_000.25))))
}
