import LabvisorCore

/// An `EventSink` that keeps every event, for tests: what was published, the values of one
/// property, and a bounded wait for a property change.
public final class RecordedEvents: EventSink {
    private struct Waiter {
        var id: UInt64
        var matches: @Sendable (Event) -> Bool
        var continuation: WaitContinuation<Void, any Error>
    }

    private struct State {
        var events: [Event] = []
        var waiters: [Waiter] = []
        var nextID: UInt64 = 0
    }

    private let state = LockedState(State())

    /// An empty record.
    public init() {}

    public func publish(_ event: Event) {
        let matched = state.withLock { state -> [Waiter] in
            state.events.append(event)
            let matched = state.waiters.filter { $0.matches(event) }
            state.waiters.removeAll { $0.matches(event) }
            return matched
        }
        for waiter in matched { waiter.continuation.resume() }
    }

    /// Every event so far, in order.
    public var events: [Event] { state.withLock { $0.events } }

    /// Forgets the events so far.
    public func removeAll() {
        state.withLock { $0.events.removeAll() }
    }

    /// The values published for `property`, in order.
    public func values(of property: String) -> [JSONValue] {
        events.filter { $0.kind == .propertyChanged && $0.fields["property"] == .string(property) }.compactMap { $0.fields["value"] }
    }

    /// Waits until a `property` change whose value passes `matches` has been published
    /// (one published before the call counts).
    ///
    /// - Throws: `timeout` naming `property` when none came within `timeout`.
    public func waitFor(
        _ property: String, timeout: Duration = .seconds(10), _ matches: @escaping @Sendable (JSONValue) -> Bool = { _ in true }
    ) async throws {
        try await waitFor("'\(property)' event", timeout: timeout) { event in
            event.kind == .propertyChanged && event.fields["property"] == .string(property)
                && event.fields["value"].map(matches) == true
        }
    }

    /// Waits until an event that passes `accepts` has been published (one published before
    /// the call counts); returns it.
    ///
    /// - Throws: `timeout` naming `what` when none came within `timeout`.
    @discardableResult
    public func waitFor(
        _ what: String, timeout: Duration = .seconds(10), matching accepts: @escaping @Sendable (Event) -> Bool
    ) async throws -> Event {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        try await suspend(
            until: .now + timeout,
            register: { (continuation: WaitContinuation<Void, any Error>) in
                let seen = state.withLock { state in
                    if state.events.contains(where: accepts) { return true }
                    state.waiters.append(Waiter(id: id, matches: accepts, continuation: continuation))
                    return false
                }
                if seen { continuation.resume() }
            },
            expire: { [state] _ in
                let waiter = state.withLock { state in
                    state.waiters.firstIndex { $0.id == id }.map { state.waiters.remove(at: $0) }
                }
                waiter?.continuation.resume(throwing: LabvisorError(.timeout, "no \(what) matched within \(timeout.seconds) s"))
            })
        return events.last(where: accepts)!
    }
}
