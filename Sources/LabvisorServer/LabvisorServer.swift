/// `LabvisorServer` holds the daemon's parts: the supervisor (`Supervisor`: inventory,
/// driver sessions, leases, events), the per-connection state (`ClientSession`), the wire
/// server (`RPCServer` on SwiftNIO, `RPCDispatcher`), and demo mode (`DemoInstruments`).
@_exported import LabvisorCore
@_exported import LabvisorProtocol
