/// `LabvisorClient`: the Swift client. `LabvisorConnection` speaks the wire (one connection,
/// many concurrent requests); `LabvisorClient` adds the typed operations of DESIGN.md:
/// list, describe, invoke, get, set, leases (`withLease { }`).
@_exported import LabvisorProtocol
