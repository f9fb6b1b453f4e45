import ExampleHeater
import ExampleHeaterSimulator
import LabvisorDriverKit
import LabvisorSimulation
import UVCCamera
import UVCCameraSimulator

/// The reference drivers and their simulators, by driver id: what the daemon runs and
/// `labvisor simulate` serves. Add a driver here after creating its folder under `drivers/`.
public enum ReferenceDrivers {
    /// Every reference driver.
    public static let drivers = DriverCatalog([
        DriverCatalog.Entry(ExampleHeaterDriver.self),
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
        }
    ])
}
