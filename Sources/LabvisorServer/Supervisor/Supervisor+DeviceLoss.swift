import Foundation
import LabvisorDriverKit

/// Devices going away and coming back, whatever noticed it (discovery's remove and add, a
/// driver's `deviceGone`, a simulator unplugged and replugged): one path for all.
///
/// - Gone: state `gone`, the running and waiting calls fail with `deviceGone` at once, later
///   calls too, the driver is shut down (its transport closed), leases and the connections'
///   session references are kept.
/// - Back within the grace period: the same instrument, same name, on the new link (a new tty
///   node or PTY); state `discovered`, and if connections still hold session references the
///   driver is reopened at once (state `ready`), so a lease holder's next call just works.
/// - Grace period over: the instrument is removed (see `docs/lifecycle.md`).
extension Supervisor {
    /// The device of instrument `name` went away (`reason` says what reported it). Returns once
    /// its driver is down. Nothing happens when the instrument is unknown or already gone.
    public func deviceGone(_ name: String, reason: String) async {
        await deviceGone(name, reason: reason, attachment: nil)
    }

    /// The device of instrument `name` is back on `link`. When the instrument was gone, it is
    /// re-attached (its driver reopened if sessions are open) and `true` is returned; when it
    /// was present, only its link is updated (`false`).
    ///
    /// - Throws: `notFound` when there is no such instrument, or its grace period has ended
    ///   (add it again).
    @discardableResult
    public func deviceReturned(_ name: String, link: DeviceLink) async throws(LabvisorError) -> Bool {
        let instrument = try instrument(name)
        guard let loss = instrument.absence.withLock({ $0.current == nil ? nil : Optional($0.loss) }) else {
            instrument.relink(link)
            leases.register(name, document: instrument.document, status: instrument.lifecycle.state.rawValue)
            return false
        }
        await loss?.value
        instrument.relink(link)
        let back = instrument.absence.withLock { state -> Absence? in
            guard let absence = state.current, !state.removed else { return nil }
            state.current = nil
            state.attachment += 1
            if let expiry = state.expiry { DeadlineScheduler.shared.cancel(expiry) }
            state.expiry = nil
            state.loss = nil
            return absence
        }
        guard let back else {
            if instrument.absent == nil { return false }
            throw LabvisorError(
                .notFound, "instrument \(name) was removed: its grace period ended before the device came back",
                fields: ["kind": "instrument", "name": .string(name)])
        }
        let away = Date().timeIntervalSince(back.since)
        _ = try? instrument.lifecycle.transition(
            from: .gone, to: .discovered,
            reason: "device back at \(link.location) after \(String(format: "%.1f", away)) s, within the grace period")
        leases.register(name, document: instrument.document, status: instrument.lifecycle.state.rawValue)
        let reopening = instrument.session.revive()
        logger.notice("instrument \(name): device back at \(link.location)\(reopening ? "; reopening its driver for the sessions still open" : "")")
        return true
    }

    /// Runs a driver call on `instrument`: refused with `deviceGone` while its device is
    /// away; a `deviceGone` from the driver marks the instrument gone.
    func reportingLoss<Value: Sendable>(of instrument: ManagedInstrument, _ body: () async throws -> Value) async throws -> Value {
        try instrument.checkPresent()
        let attachment = instrument.attachment
        do {
            return try await body()
        } catch let error as LabvisorError where error.code == .deviceGone {
            await deviceGone(instrument.name, reason: error.message, attachment: attachment)
            throw error
        }
    }

    /// Marks the instrument gone unless `attachment` is given and is not the current one (a
    /// late report about a device that has been re-attached since).
    func deviceGone(_ name: String, reason: String, attachment: UInt64?) async {
        guard let instrument = instruments.withLock({ $0[name] }) else { return }
        let now = Date()
        let absence = Absence(since: now, reason: reason, graceEnds: now.addingTimeInterval(gracePeriod.seconds))
        let error = instrument.goneError(absence)
        let grace = gracePeriod
        let loss = instrument.absence.withLock { state -> (task: Task<Void, Never>?, new: Bool) in
            if let attachment, attachment != state.attachment { return (nil, false) }
            guard state.current == nil else { return (state.loss, false) }
            state.current = absence
            // `gone` before the driver's shutdown starts (it looks at the state).
            _ = try? instrument.lifecycle.transition(to: .gone, reason: reason)
            // Calls in progress and waiting end now with `deviceGone`, before the shutdown's
            // own immediate turn could interrupt them with anything else.
            instrument.session.resource?.deviceGone(reason)
            state.loss = Task { await instrument.session.lose(with: error) }
            let attachment = state.attachment
            state.expiry = DeadlineScheduler.shared.schedule(at: .now + grace) {
                Task { await self.graceEnded(name, attachment: attachment) }
            }
            return (state.loss, true)
        }
        if loss.new {
            leases.setStatus(LifecycleState.gone.rawValue, of: name)
            logger.warning("instrument \(name): device gone (\(reason)); kept for \(grace.seconds) s in case it comes back")
        }
        await loss.task?.value
    }

    /// The grace period of an absence ended: unless the device came back meanwhile, removes
    /// the instrument for good.
    func graceEnded(_ name: String, attachment: UInt64) async {
        guard let instrument = instruments.withLock({ $0[name] }) else { return }
        let absence = instrument.absence.withLock { state -> Absence? in
            guard state.attachment == attachment, !state.removed, let absence = state.current else { return nil }
            state.removed = true
            state.expiry = nil
            return absence
        }
        guard let absence else { return }
        let reason = "instrument \(name) was removed: its device went away at \(absence.since.formatted(.iso8601)) (\(absence.reason)) and did not come back within the grace period of \(gracePeriod.seconds) s"
        await remove(instrument, reason: reason)
    }

    /// Removes `instrument` for good: its lease is revoked by `labvisord` with `reason`,
    /// waiters that named it fail with `notFound`, its driver session is retired (the
    /// connections' references to it become unusable), later calls get `notFound` with
    /// `reason`, and an `instrumentRemoved` event carries it.
    func remove(_ instrument: ManagedInstrument, reason: String) async {
        let name = instrument.name
        let removed = instruments.withLock { instruments -> Bool in
            guard instruments[name] === instrument else { return false }
            instruments.removeValue(forKey: name)
            return true
        }
        guard removed else { return }
        removals.withLock { $0[name] = reason }
        leases.unregister(name, reason: reason)
        await instrument.session.retire()
        logger.warning("\(reason)")
        events.publish(Event(kind: .instrumentRemoved, instrument: name, fields: ["reason": .string(reason)]))
    }
}
