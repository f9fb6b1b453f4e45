import Foundation
import LabvisorDriverKit
import LabvisorSimulation
import Testing
import ZaberASCII
import ZaberASCIISimulator

/// Keeps every event published.
final class ZaberCollectedEvents: EventSink {
    let events = LockedState<[Event]>([])
    func publish(_ event: Event) { events.withLock { $0.append(event) } }

    /// The values of `position` events, in order.
    var positions: [Double] {
        events.withLock { $0 }.filter { $0.kind == .propertyChanged && $0.fields["property"] == "position" }
            .compactMap { $0.fields["value"]?.number }
    }
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
        let file = driverFolder.appendingPathComponent("driver.toml").path
        return try DriverManifestParser.parse(try String(contentsOfFile: file, encoding: .utf8), file: file)
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
        let device = try SimulatedSerialDevice(model: model)
        device.start()
        defer { device.stop() }
        let host = try await Host.open(
            instrument: "stage-1", node: device.path, transport: try manifest().transport, events: events)
        do {
            try await body(host, device)
        } catch {
            try? await host.shutdown(timeout: .seconds(5))
            throw error
        }
        if device.isUnplugged {
            let error = await #expect(throws: LabvisorError.self) { try await host.shutdown(timeout: .seconds(5)) }
            #expect(error?.code == .deviceGone)
        } else {
            try await host.shutdown(timeout: .seconds(5))
        }
    }

    /// Homes every axis through the driver.
    static func home(_ host: Host) async throws {
        _ = try await host.invoke("home", arguments: [:], timeout: .seconds(5))
    }
}
