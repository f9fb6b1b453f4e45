/// Which events a subscriber wants. Applied by the bus at publish time, so unwanted events
/// never enter a subscriber's buffer (and never count as missed).
public struct EventFilter: Sendable, Hashable {
    /// The kinds to accept; `nil` accepts every kind.
    public var kinds: Set<Event.Kind>?
    /// The instruments to accept; `nil` accepts every event, including those that concern no
    /// instrument. When set, an event whose `instrument` is `nil` is rejected.
    public var instruments: Set<String>?

    /// The filter that accepts every event.
    public static let all = EventFilter()

    /// Creates a filter; a `nil` criterion accepts anything.
    public init(kinds: Set<Event.Kind>? = nil, instruments: Set<String>? = nil) {
        self.kinds = kinds
        self.instruments = instruments
    }

    /// Whether `event` passes both criteria.
    public func accepts(_ event: Event) -> Bool {
        if let kinds, !kinds.contains(event.kind) { return false }
        if let instruments {
            guard let instrument = event.instrument, instruments.contains(instrument) else { return false }
        }
        return true
    }
}
