import Foundation

/// What a configuration reload changes in the supervisor (`ConfigurationReload`): the live
/// limits, instruments removed for good, and the tags and linger of instruments kept.
extension Supervisor {
    /// Sets the limits a reload applies live: the default call timeout (for calls that start
    /// from now on) and the stream subscriptions per client (for `stream.open` from now on).
    public func setLimits(callTimeout: Duration, streamsPerClient: Int) {
        limits.withLock { $0 = (callTimeout, streamsPerClient) }
    }

    /// Removes instrument `name` for good, as when its grace period ends: its lease is revoked
    /// by `labvisord` with `reason`, its driver is retired to its safe state, and an
    /// `instrumentRemoved` event carries `reason`. Nothing happens when there is no such
    /// instrument. Returns once its driver is down.
    public func retire(_ name: String, reason: String) async {
        guard let instrument = instruments.withLock({ $0[name] }) else { return }
        await remove(instrument, reason: reason)
    }

    /// Changes instrument `name`'s tags and linger in place: its driver session, the sessions'
    /// references and its lease are kept; requirement queries see the new tags at once.
    /// Returns `false` when there is no such instrument.
    @discardableResult
    public func update(_ name: String, tags: [String: JSONValue], linger: Duration) -> Bool {
        guard let instrument = instruments.withLock({ $0[name] }) else { return false }
        instrument.update(tags: tags, linger: linger)
        leases.register(name, document: instrument.document, status: instrument.lifecycle.state.rawValue)
        return true
    }

    /// Appends an entry to the state store's audit log (nothing without a store).
    public func recordAudit(actor: String, action: String, target: String, detail: String) {
        store?.record(.audit(AuditLogEntry(time: Date().timeIntervalSince1970, actor: actor, action: action, target: target, detail: detail)))
    }
}
