/// `LabvisorSimulation` runs the device side of instruments (a PTY master for serial devices,
/// a usbdevfs ioctl handler for USB devices) for tests and `labvisord --demo`. Today it holds
/// the umockdev testbed (`UmockdevTestbed`) and the USB device records (`MockUSBRecords`)
/// shared by the discovery tests and `labvisor-bench discovery.hotplug`; the simulators
/// arrive with the driver SDK (see `docs/architecture.md`).
@_exported import LabvisorCore
