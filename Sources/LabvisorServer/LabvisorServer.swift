/// `LabvisorServer` holds the supervisor (inventory, bindings, sessions, leases), the wire
/// server, the config, the store and the systemd notifier. Its contents arrive with the
/// daemon (see `docs/architecture.md`).
@_exported import LabvisorCore
