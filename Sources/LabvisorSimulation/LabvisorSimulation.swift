/// `LabvisorSimulation` runs the device side of instruments (a PTY master for serial devices,
/// a usbdevfs ioctl handler for USB devices) for tests and `labvisord --demo`. Its contents
/// arrive with the driver SDK (see `docs/architecture.md`).
@_exported import LabvisorCore
