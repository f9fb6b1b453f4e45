/// `LabvisorDriverKit` is the SDK that drivers import: the driver protocol
/// (`InstrumentDriver`), methods and properties declared once (`DriverMethod`,
/// `DriverProperty`, `Argument`), the context a driver opens with (`DriverContext`: its
/// transport (serial or USB), logger, events and frame streams), the line-protocol helper (`LineChannel`), and the host
/// that runs a driver behind its call queue (`DriverHost`). See `docs/writing-a-driver.md`.
///
/// The core concepts and the hardware transports are re-exported, so a driver needs one import.
@_exported import LabvisorCore
@_exported import LabvisorHardware
@_exported import Logging
