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

    /// Creates the wire form of an event from its members.
    public init(sequence: UInt64, time: Double, kind: Event.Kind, instrument: String?, fields: [String: JSONValue]) {
        self.sequence = sequence
        self.time = time
        self.kind = kind
        self.instrument = instrument
        self.fields = fields
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

extension EventNotification {
    /// Appends the notification of `event` for `subscription` as JSON text: the message
    /// `RPCRequest(id: nil, method: name, params: Params(subscription:event:))` encodes to,
    /// written without `Codable` (the event fan-out writes one per event and subscriber).
    public static func write(subscription: Int, event: Event, into output: inout [UInt8]) {
        output.append(contentsOf: #"{"jsonrpc":"2.0","method":"event","params":{"subscription":"#.utf8)
        output.append(contentsOf: String(subscription).utf8)
        output.append(contentsOf: #","event":{"sequence":"#.utf8)
        output.append(contentsOf: String(event.sequence).utf8)
        output.append(contentsOf: #","time":"#.utf8)
        JSONWriter.write(.double(event.time.timeIntervalSince1970), into: &output)
        output.append(contentsOf: #","kind":"#.utf8)
        JSONWriter.writeString(event.kind.rawValue, into: &output)
        if let instrument = event.instrument {
            output.append(contentsOf: #","instrument":"#.utf8)
            JSONWriter.writeString(instrument, into: &output)
        }
        output.append(contentsOf: #","fields":"#.utf8)
        JSONWriter.write(.object(event.fields), into: &output)
        output.append(contentsOf: "}}}".utf8)
    }

    /// The parameters of a notification in exactly the layout `write` gives it, read without
    /// building the envelope's tree; `nil` for any other text (parse it as a tree then).
    public static func params(fromMessage buffer: UnsafeRawBufferPointer) -> Params? {
        JSONParser.read(buffer) { (reader: inout JSONParser) throws(JSONParser.Failure) -> Params? in
            guard reader.skip(#"{"jsonrpc":"2.0","method":"event","params":{"subscription":"#), case .int(let subscription) = try reader.value(),
                reader.skip(#","event":{"sequence":"#), case .int(let sequence) = try reader.value(), sequence >= 0,
                reader.skip(#","time":"#), let time = try reader.value().number,
                reader.skip(#","kind":"#), case .string(let kindName) = try reader.value(), let kind = Event.Kind(rawValue: kindName)
            else { return nil }
            var instrument: String?
            if reader.skip(#","instrument":"#) {
                guard case .string(let name) = try reader.value() else { return nil }
                instrument = name
            }
            guard reader.skip(#","fields":"#), case .object(let fields) = try reader.value(), reader.skip("}}}"), reader.isAtEnd else { return nil }
            return Params(
                subscription: subscription,
                event: WireEvent(sequence: UInt64(sequence), time: time, kind: kind, instrument: instrument, fields: fields))
        }
    }
}
