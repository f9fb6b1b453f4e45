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
import UVCCamera
import UVCCameraSimulator

/// The reference drivers and their simulators, by driver id: what the daemon runs and
/// `labvisor simulate` serves. Add a driver here after creating its folder under `drivers/`.
public enum ReferenceDrivers {
    /// Every reference driver.
    public static let drivers = DriverCatalog([
        DriverCatalog.Entry(ExampleHeaterDriver.self),
        DriverCatalog.Entry(CoherentOBISDriver.self),
        DriverCatalog.Entry(ThorlabsAPTDriver.self),
        DriverCatalog.Entry(ZaberASCIIDriver.self),
        DriverCatalog.Entry(UVCCameraDriver.self),
    ])

    /// Every simulator of a USB instrument (for a `SimulatedUSBDevice` in a umockdev testbed).
    public static let usbSimulators = USBSimulatorCatalog([
        USBSimulatorCatalog.Entry(id: "uvc-camera", summary: "UVC camera: GREY, Y16 and YUY2 over bulk, exposure controls") {
            let camera = UVCCameraDevice()
            return USBSimulation(
                descriptors: camera.descriptors, behavior: camera, kernelDrivers: [0: "uvcvideo", 1: "uvcvideo"])
        }
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
