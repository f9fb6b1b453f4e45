import Foundation

/// Something that happened in the daemon, as subscribers see it. Events are numbered in the
/// order the bus accepted them; a subscriber that fell behind gets a `gap` event saying how
/// many it missed instead of unbounded buffering.
public struct Event: Sendable, Hashable {
    /// What kind of thing happened.
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// An instrument appeared in the inventory (fields: identity, driver).
        case instrumentAdded
        /// An instrument left the inventory for good (its grace period ended).
        case instrumentRemoved
        /// An instrument's lifecycle state changed (fields: from, to, reason).
        case stateChanged
        /// A lease was granted (fields: lease, holder, instruments).
        case leaseAcquired
        /// A lease ended (fields: lease, holder, instruments, reason).
        case leaseReleased
        /// An administrator revoked a lease (fields: lease, holder, reason, by).
        case leaseRevoked
        /// A driver property changed (fields: property, value).
        case propertyChanged
        /// A oneway call finished successfully (fields: call, method, result).
        case callCompleted
        /// A oneway call failed (fields: call, method, error).
        case callFailed
        /// This subscriber missed `missed` events because it read too slowly.
        case gap
    }

    /// Position in the bus's total order (gap events carry the sequence of the first event
    /// delivered after them).
    public var sequence: UInt64
    /// When the event was published.
    public var time: Date
    /// What happened.
    public var kind: Kind
    /// The instrument it concerns, if any.
    public var instrument: String?
    /// Details, by kind (see `Kind`).
    public var fields: [String: JSONValue]

    /// Creates an event; the bus sets `sequence` and `time` on publication.
    public init(
        kind: Kind, instrument: String? = nil, fields: [String: JSONValue] = [:],
        sequence: UInt64 = 0, time: Date = Date()
    ) {
        self.kind = kind
        self.instrument = instrument
        self.fields = fields
        self.sequence = sequence
        self.time = time
    }
}

/// Where components publish their events. `EventBus` is the implementation; tests may
/// collect events with any other conforming type.
public protocol EventSink: Sendable {
    /// Publishes an event to every interested subscriber. Never blocks.
    func publish(_ event: Event)

    /// Whether anyone may receive events of `kind`; publishers skip building them when not.
    func isObserved(_ kind: Event.Kind) -> Bool
}

extension EventSink {
    /// By default a sink always listens.
    public func isObserved(_ kind: Event.Kind) -> Bool { true }
}
