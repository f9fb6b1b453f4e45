import ExampleHeater
import ExampleHeaterSimulator
import LabvisorDriverKit
import LabvisorSimulation
import ZaberASCII
import ZaberASCIISimulator

/// The reference drivers and their simulators, by driver id: what the daemon runs and
/// `labvisor simulate` serves. Add a driver here after creating its folder under `drivers/`.
public enum ReferenceDrivers {
    /// Every reference driver.
    public static let drivers = DriverCatalog([
        DriverCatalog.Entry(ExampleHeaterDriver.self),
        DriverCatalog.Entry(ZaberASCIIDriver.self),
    ])

    /// Every simulator of a serial instrument.
    public static let simulators = SimulatorCatalog([
        SimulatorCatalog.Entry(id: "example-heater", summary: "Acme TC-1 temperature controller (the guide's example)") {
            ExampleHeaterDevice()
        },
        SimulatorCatalog.Entry(id: "zaber-ascii", summary: "Zaber two-axis controller (Zaber ASCII protocol)") {
            ZaberSimulatedController(deviceNumber: 1, axisCount: 2)
        },
    ])
}
