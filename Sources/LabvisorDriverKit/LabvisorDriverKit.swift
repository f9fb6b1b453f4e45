/// `LabvisorDriverKit` is the SDK that drivers import: the driver protocol, declared methods
/// and properties, the serial and USB transports, and the simulator hooks. Its contents
/// arrive with the driver SDK (see `docs/architecture.md`); the core concepts it builds on
/// are re-exported so a driver needs one import.
@_exported import LabvisorCore
