/// `LabvisorSimulation` runs the device side of instruments, for tests, `labvisor simulate`
/// and demo mode: `SimulatedSerialDevice` runs a `SerialDeviceModel` (a simulator's state
/// and protocol) on the master side of a PTY, with injectable faults (`SerialFault`);
/// `SimulatorCatalog` names simulators by driver id. The umockdev testbed
/// (`UmockdevTestbed`) and USB device records (`MockUSBRecords`) serve the hardware tests.
///
/// The core concepts and the hardware framing types are re-exported, so a simulator needs
/// one import.
@_exported import LabvisorCore
@_exported import LabvisorHardware
