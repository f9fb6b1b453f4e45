import CoherentOBIS
import CoherentOBISSimulator
import Foundation
import LabvisorDriverKit
import LabvisorDriverTesting
import LabvisorSimulation
import Testing

/// Every event published (shared with the other drivers' tests).
typealias CollectedEvents = RecordedEvents

/// Opens the OBIS driver on a fresh simulator through a real PTY.
enum OBISBench {
    /// The manifest in this driver's folder, parsed as the daemon parses it.
    static func manifest() throws -> DriverManifest {
        try DriverTestbed.manifest(besides: #filePath)
    }

    /// Runs `body` with the driver open on a simulator configured by `configure`; shuts the
    /// driver down afterwards, checking emission is off (or `deviceGone` after an unplug).
    static func withLaser(
        _ configure: (inout CoherentOBISDevice) -> Void = { _ in },
        events: CollectedEvents? = nil,
        _ body: (DriverHost<CoherentOBISDriver>, SimulatedSerialDevice<CoherentOBISDevice>) async throws -> Void
    ) async throws {
        var model = CoherentOBISDevice()
        configure(&model)
        try await DriverTestbed.withDriver(
            CoherentOBISDriver.self, on: model, manifest: try manifest(), instrument: "laser-488", events: events,
            isSafe: { !$0.emitting }, body)
    }
}
