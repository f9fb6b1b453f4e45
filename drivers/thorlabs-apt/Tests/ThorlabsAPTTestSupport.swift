import Foundation
import LabvisorDriverKit
import LabvisorDriverTesting
import LabvisorSimulation
import ThorlabsAPT
import ThorlabsAPTSimulator
import Testing

/// Every event published (shared with the other drivers' tests).
typealias CollectedEvents = RecordedEvents

/// Opening the driver on a fresh simulator, through a real PTY and the real serial port.
enum APTTestbed {
    /// This driver's folder.
    static var folder: URL { URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent() }

    /// The manifest in this folder, parsed as the daemon parses it.
    static func manifest() throws -> DriverManifest {
        try DriverTestbed.manifest(besides: #filePath)
    }

    /// A fast stage: moves of a few millimetres take tens of milliseconds.
    static func fast(_ device: inout KDC101Device) {
        device.maxVelocity = 20
        device.acceleration = 200
        device.homeVelocity = 20
    }

    /// Runs `body` with the driver open on a fresh simulator; shuts down afterwards.
    static func withStage(
        _ configure: (inout KDC101Device) -> Void = fast,
        events: CollectedEvents? = nil,
        _ body: (DriverHost<ThorlabsAPTDriver>, SimulatedSerialDevice<KDC101Device>) async throws -> Void
    ) async throws {
        var model = KDC101Device()
        configure(&model)
        try await DriverTestbed.withDriver(
            ThorlabsAPTDriver.self, on: model, manifest: try manifest(), instrument: "stage-x", events: events, body)
    }

    /// A HW_RICHRESPONSE from the controller, written out by hand from the protocol document.
    static func richResponse(about id: UInt16, code: UInt16, _ text: String) -> [UInt8] {
        var data: [UInt8] = [UInt8(id & 0xFF), UInt8(id >> 8), UInt8(code & 0xFF), UInt8(code >> 8)]
        data += Array(text.utf8.prefix(64)) + [UInt8](repeating: 0, count: 64 - min(64, text.utf8.count))
        return [0x81, 0x00, UInt8(data.count), 0x00, 0x81, 0x50] + data
    }
}
