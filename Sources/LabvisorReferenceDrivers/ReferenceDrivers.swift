import CoherentOBIS
import CoherentOBISSimulator
import ExampleHeater
import ExampleHeaterSimulator
import LabvisorDriverKit
import LabvisorSimulation
import ThorlabsAPT
import ThorlabsAPTSimulator
import ZaberASCII
import ZaberASCIISimulator

/// The reference drivers and their simulators, by driver id: what the daemon runs and
/// `labvisor simulate` serves. Add a driver here after creating its folder under `drivers/`.
public enum ReferenceDrivers {
    /// Every reference driver.
    public static let drivers = DriverCatalog([
        DriverCatalog.Entry(ExampleHeaterDriver.self),
        DriverCatalog.Entry(CoherentOBISDriver.self),
        DriverCatalog.Entry(ThorlabsAPTDriver.self),
        DriverCatalog.Entry(ZaberASCIIDriver.self),
    ])

    /// Every simulator of a serial instrument.
    public static let simulators = SimulatorCatalog([
        SimulatorCatalog.Entry(id: "example-heater", summary: "Acme TC-1 temperature controller (the guide's example)") {
            ExampleHeaterDevice()
        },
        SimulatorCatalog.Entry(id: "coherent-obis", summary: "Coherent OBIS 488 LX 150 mW laser") {
            CoherentOBISDevice()
        },
        SimulatorCatalog.Entry(id: "thorlabs-apt", summary: "Thorlabs KDC101 K-Cube DC servo controller with a Z825B actuator (APT protocol)") {
            KDC101Device()
        },
        SimulatorCatalog.Entry(id: "zaber-ascii", summary: "Zaber two-axis controller (Zaber ASCII protocol)") {
            ZaberSimulatedController(deviceNumber: 1, axisCount: 2)
        },
    ])
}
