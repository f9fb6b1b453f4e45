/// `LabvisorClient` is the Swift client library for `labvisord`. Its contents arrive with
/// the daemon and the wire (see `docs/architecture.md`).
@_exported import LabvisorProtocol
