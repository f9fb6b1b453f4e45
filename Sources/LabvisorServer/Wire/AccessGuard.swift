import Foundation
import LabvisorProtocol

/// The access checks of one request: what each method needs of the caller (observe, control,
/// administer), with every refusal written to the audit log before it is answered.
struct AccessGuard: Sendable {
    let access: ConnectionAccess
    let session: ClientSession
    let supervisor: Supervisor
    /// Writes refused authentications (within its limits).
    let refusals: RefusalAudit

    /// Checks `level` on `instrument` (`nil`: daemon-wide). `action` is worded only for a
    /// refusal: an allowed call builds no string.
    ///
    /// - Throws: `permissionDenied` naming the rule (audited); `unauthenticated`.
    func check(_ level: AccessLevel, _ instrument: String?, action: @autoclosure () -> String? = nil) throws(LabvisorError) {
        do {
            try access.check(level, instrument: instrument, action: action())
        } catch {
            if error.code == .permissionDenied { audit("denied", target: instrument ?? "daemon", detail: error.message) }
            throw error
        }
    }

    /// `session.authenticate` (`authenticationRefused` audits its failures).
    func authenticate(_ params: AuthenticateSession.Params) throws(LabvisorError) -> AuthenticateSession.Result {
        AuthenticateSession.Result(identity: "\(try access.authenticate(token: params.token))")
    }

    /// A failed `session.authenticate` (a wrong token: `authenticationFailed`; params that
    /// are not a token request: `refused`), through the refusal audit's limits: before the
    /// connection authenticated, or a token tried where tokens are taken. A unix socket peer,
    /// or an insecure loopback peer without a tokens file, is identified already and has no
    /// token to guess.
    func authenticationRefused(_ error: LabvisorError) {
        let action = error.code == .unauthenticated ? "authenticationFailed" : "refused"
        let authenticated = access.isAuthenticated
        guard !authenticated || (action == "authenticationFailed" && access.tokens != nil) else { return }
        refusals.requestRefused(access, client: session.client, action: action, method: AuthenticateSession.name, reason: error.message)
    }

    /// `instrument.invoke`: an observe method needs observe, any other control.
    func checkInvoke(_ params: InvokeMethod.Params) throws(LabvisorError) {
        if access.isUnrestricted { return }
        let method = try? supervisor.instrument(params.instrument).driver.interface.method(params.method)
        let level: AccessLevel = method?.access == .observe ? .observe : .control
        try check(level, params.instrument, action: "\(level) \(params.instrument) (invoke \(params.method))")
    }

    /// `leases.acquire`: control of every named instrument; a query is narrowed to the
    /// instruments the caller may control.
    func checkAcquire(_ params: AcquireLease.Params) throws(LabvisorError) -> AcquireLease.Params {
        if access.isUnrestricted { return params }
        if let names = params.instruments {
            for name in names { try check(.control, name, action: "control \(name) (take its lease)") }
            return params
        }
        guard let query = params.where else { return params }
        let grants = access.grants
        let restriction: JSONValue
        if grants.permit(.control, instrument: nil) {
            let denied = grants.instruments.filter { !grants.permit(.control, instrument: $0.key) }.keys.sorted()
            if denied.isEmpty { return params }
            restriction = ["name": ["$nin": .array(denied.map { .string($0) })]]
        } else {
            let allowed = grants.instruments.filter { grants.permit(.control, instrument: $0.key) }.keys.sorted()
            restriction = ["name": ["$in": .array(allowed.map { .string($0) })]]
        }
        var narrowed = params
        narrowed.where = ["$and": [query, restriction]]
        return narrowed
    }

    /// `leases.revoke`: administer every instrument of the lease.
    func checkRevoke(_ params: RevokeLease.Params) throws(LabvisorError) {
        if access.isUnrestricted { return }
        guard let lease = supervisor.leases.leases.first(where: { $0.id == params.lease }) else { return }
        for name in lease.instruments { try check(.administer, name, action: "revoke lease \(params.lease) on \(name)") }
    }

    /// `events.watch`: observe every named instrument; without names, daemon-wide observe.
    func checkWatch(_ params: WatchEvents.Params) throws(LabvisorError) {
        if access.isUnrestricted { return }
        guard let names = params.instruments else {
            try check(.observe, nil, action: "watch every instrument (name the instruments to watch)")
            return
        }
        for name in names { try check(.observe, name, action: "observe \(name) (watch its events)") }
    }

    /// `instruments.list` without the instruments the caller may not observe.
    func visible(_ result: ListInstruments.Result) -> ListInstruments.Result {
        if access.isUnrestricted { return result }
        var result = result
        result.instruments.removeAll { !access.permits(.observe, instrument: $0.name) }
        return result
    }

    private func audit(_ action: String, target: String, detail: String) {
        let pid = session.client.pid.map { " pid \($0)" } ?? ""
        supervisor.store?.record(.audit(AuditLogEntry(
            time: Date().timeIntervalSince1970, actor: "\(access.identity)\(pid)", action: action, target: target, detail: detail)))
        supervisor.logger.notice("\(action): \(detail)")
    }
}
