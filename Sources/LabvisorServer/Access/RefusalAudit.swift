import Foundation
import Logging

/// Writes refusals before authentication to the audit log (a TCP request before
/// `session.authenticate`, a wrong token, a message that is not a request, a failed TLS
/// handshake, a connection refused because the daemon is full), each with the peer (the
/// actor: address, or uid and pid), the method (the target) and the reason (the detail).
///
/// A client sending garbage cannot flood the store: per connection the first
/// `perConnection` refusals are recorded one by one and the rest are counted, for one
/// `refusalsOmitted` entry when the connection closes; daemon-wide (against many connections)
/// at most `perWindow` refusal entries are written per `window`, the rest counted and
/// summed up in one `refusalsOmitted` entry written with the first refusal of a later window
/// (and a warning in the log when the limit is reached).
public final class RefusalAudit: Sendable {
    private struct Window: Sendable {
        var start: ContinuousClock.Instant
        var recorded = 0
        var omitted = 0
    }

    /// Refusals recorded one by one per connection.
    public let perConnection: Int
    /// Refusal entries written daemon-wide per `window`.
    public let perWindow: Int
    /// The daemon-wide limit's window.
    public let window: Duration
    private let supervisor: Supervisor
    private let current: LockedState<Window>
    private let now: @Sendable () -> ContinuousClock.Instant

    /// Creates the writer of `supervisor`'s audit log; `now` tells the time (tests give their own).
    public init(
        supervisor: Supervisor, perConnection: Int = 5, perWindow: Int = 100, window: Duration = .seconds(60),
        now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }
    ) {
        self.supervisor = supervisor
        self.perConnection = perConnection
        self.perWindow = perWindow
        self.window = window
        self.now = now
        current = LockedState(Window(start: now()))
    }

    /// A request of `client` refused before its connection (`access`) authenticated.
    /// `action` is `unauthenticated` (a method before authenticating), `authenticationFailed`
    /// (a wrong token) or `refused` (not a request: `method` says what came).
    /// A client's method name and the reason are cut to `Self.longest` characters.
    public func requestRefused(_ access: ConnectionAccess, client: ClientRef, action: String, method: String, reason: String) {
        let method = Self.cut(method)
        guard access.refusalTally.admit(limit: perConnection, describing: "\(action) \(method): \(Self.cut(reason))") else { return }
        record(actor: Self.actor(access, client), action: action, target: method, detail: Self.cut(reason))
    }

    /// The most characters of a client's text (a method name, a parse error) in an entry.
    static let longest = 200

    private static func cut(_ text: String) -> String {
        text.count <= longest ? text : String(text.prefix(longest)) + "…"
    }

    /// A connection of `peer` refused before any request (the daemon is full).
    public func connectionRefused(peer: String, reason: String) {
        record(actor: peer, action: "refused", target: "connection", detail: reason)
    }

    /// `client`'s connection closed: one entry for the refusals its limit left out, if any.
    public func closed(_ access: ConnectionAccess, client: ClientRef) {
        guard let omitted = access.refusalTally.takeOmitted() else { return }
        record(
            actor: Self.actor(access, client), action: "refusalsOmitted", target: "connection",
            detail: "\(omitted.count) more refusals on this connection were not recorded one by one (the first \(perConnection) were); the last: \(omitted.last)",
            weight: omitted.count)
    }

    /// "anonymous tcp peer 10.0.0.7:51234", "user alice (uid 1000) pid 4242".
    private static func actor(_ access: ConnectionAccess, _ client: ClientRef) -> String {
        "\(access.identity)\(client.pid.map { " pid \($0)" } ?? "")"
    }

    /// Writes one entry (standing for `weight` refusals) within the daemon-wide limit.
    private func record(actor: String, action: String, target: String, detail: String, weight: Int = 1) {
        let now = self.now()
        let window = self.window
        let limit = perWindow
        let (admitted, earlier, limitReached) = current.withLock { current -> (Bool, Int, Bool) in
            var earlier = 0
            if now - current.start >= window {
                earlier = current.omitted
                current = Window(start: now)
            }
            guard current.recorded < limit else {
                current.omitted += weight
                return (false, earlier, current.omitted == weight)
            }
            current.recorded += 1
            return (true, earlier, false)
        }
        if earlier > 0 {
            supervisor.recordAudit(
                actor: "labvisord", action: "refusalsOmitted", target: "daemon",
                detail: "\(earlier) refusals were not recorded one by one: more than \(limit) in \(window)")
        }
        if limitReached {
            supervisor.logger.warning("more than \(limit) refusals in \(window): the audit log records the next ones only as a count")
        }
        guard admitted else { return }
        supervisor.recordAudit(actor: actor, action: action, target: target, detail: detail)
        supervisor.logger.notice("\(action): \(actor): \(target): \(detail)")
    }
}
