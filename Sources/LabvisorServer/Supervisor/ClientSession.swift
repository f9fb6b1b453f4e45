import LabvisorDriverKit

/// What one connected client holds: driver session references (one per instrument it has
/// used) and, through the lease table, its leases. `close()` releases all of it at once,
/// whatever ended the connection.
public final class ClientSession: Sendable {
    /// The client, as leases and events name it.
    public let client: ClientRef
    private let references = LockedState<[String: SessionReference]>([:])
    private let closed = LockedState(false)

    /// Creates the session of a newly connected client.
    public init(client: ClientRef) {
        self.client = client
    }

    /// Whether the connection has ended.
    public var isClosed: Bool { closed.withLock { $0 } }

    /// The instrument's running driver, opening a session reference on first use.
    ///
    /// - Throws: `closed` after `close()`; what opening the driver throws.
    func hosted(_ instrument: ManagedInstrument) async throws -> any HostedInstrument {
        if let reference = references.withLock({ $0[instrument.name] }) {
            return try instrument.session.use(reference)
        }
        let reference = try await instrument.session.open(by: client.name)
        let kept = references.withLock { references -> Bool in
            if closed.withLock({ $0 }) || references[instrument.name] != nil { return false }
            references[instrument.name] = reference
            return true
        }
        if !kept {
            // Closed meanwhile, or another call of this client opened one first.
            try? instrument.session.close(reference)
            guard let existing = references.withLock({ $0[instrument.name] }) else {
                throw LabvisorError.closed("the connection of \(client)")
            }
            return try instrument.session.use(existing)
        }
        return try instrument.session.use(reference)
    }

    /// Releases everything: leases, then session references (the last one of an instrument
    /// shuts its driver down after the linger). Idempotent.
    func close(in supervisor: Supervisor) {
        let first = closed.withLock { closed in
            defer { closed = true }
            return !closed
        }
        guard first else { return }
        _ = supervisor.leases.releaseAll(heldBy: client, reason: .clientDisconnected)
        let held = references.withLock { references in
            defer { references = [:] }
            return references
        }
        for (name, reference) in held {
            try? supervisor.instrument(name).session.close(reference)
        }
    }
}
