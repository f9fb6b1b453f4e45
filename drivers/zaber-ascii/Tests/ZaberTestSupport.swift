import Foundation
import LabvisorDriverKit
import LabvisorDriverTesting
import LabvisorSimulation
import Testing
import ZaberASCII
import ZaberASCIISimulator

/// Every event published (shared with the other drivers' tests).
typealias ZaberCollectedEvents = RecordedEvents

extension RecordedEvents {
    /// The values of `position` events, in order.
    var positions: [Double] { values(of: "position").compactMap(\.number) }
}

/// Opens the driver on a simulated controller through a real PTY.
enum ZaberHarness {
    typealias Device = SimulatedSerialDevice<ZaberSimulatedController>
    typealias Host = DriverHost<ZaberASCIIDriver>

    /// The size of one microstep at the simulator's default resolution (64), mm.
    static let microstep = ZaberASCIIDriver.fullStepMillimetres / 64

    /// The folder of this driver (`drivers/zaber-ascii`).
    static var driverFolder: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    }

    /// The manifest, parsed as the daemon parses it.
    static func manifest() throws -> DriverManifest {
        try DriverTestbed.manifest(besides: #filePath)
    }

    /// A fast two-axis controller (about 48 mm/s, 60 mm/s² ramps) with its axes near home.
    static func fastController() -> ZaberSimulatedController {
        var model = ZaberSimulatedController(deviceNumber: 1, axisCount: 2)
        for index in model.axes.indices {
            model.axes[index] = ZaberSimulatedAxis(position: 2_000 * (index + 1))
            model.axes[index].maxSpeed = 1_638_400
        }
        return model
    }

    /// Runs `body` with the driver open on a fresh simulator; shuts the driver down after.
    static func withStage(
        _ configure: (inout ZaberSimulatedController) -> Void = { _ in },
        events: ZaberCollectedEvents? = nil,
        _ body: (Host, Device) async throws -> Void
    ) async throws {
        var model = fastController()
        configure(&model)
        try await DriverTestbed.withDriver(
            ZaberASCIIDriver.self, on: model, manifest: try manifest(), instrument: "stage-1", events: events, body)
    }

    /// Homes every axis through the driver.
    static func home(_ host: Host) async throws {
        _ = try await host.invoke("home", arguments: [:], timeout: .seconds(5))
    }
}
