import CoherentOBIS
import CoherentOBISSimulator
import Foundation
import LabvisorDriverKit
import LabvisorSimulation
import Testing

/// Keeps every event published.
final class CollectedEvents: EventSink {
    let events = LockedState<[Event]>([])
    func publish(_ event: Event) { events.withLock { $0.append(event) } }

    /// The values published for `property`, in order.
    func values(of property: String) -> [JSONValue] {
        events.withLock { $0 }.filter { $0.kind == .propertyChanged && $0.fields["property"] == .string(property) }
            .compactMap { $0.fields["value"] }
    }
}

/// Opens the OBIS driver on a fresh simulator through a real PTY.
enum OBISBench {
    /// The folder `drivers/coherent-obis`.
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()

    /// The manifest in this driver's folder, parsed as the daemon parses it.
    static func manifest() throws -> DriverManifest {
        let file = folder.appendingPathComponent("driver.toml").path
        return try DriverManifestParser.parse(try String(contentsOfFile: file, encoding: .utf8), file: file)
    }

    /// Runs `body` with the driver open on a simulator configured by `configure`; shuts the
    /// driver down afterwards (expecting `deviceGone` when the test unplugged the laser).
    static func withLaser(
        _ configure: (inout CoherentOBISDevice) -> Void = { _ in },
        events: CollectedEvents? = nil,
        _ body: (DriverHost<CoherentOBISDriver>, SimulatedSerialDevice<CoherentOBISDevice>) async throws -> Void
    ) async throws {
        var model = CoherentOBISDevice()
        configure(&model)
        let device = try SimulatedSerialDevice(model: model)
        device.start()
        defer { device.stop() }
        let host = try await DriverHost<CoherentOBISDriver>.open(
            instrument: "laser-488", node: device.path, transport: try manifest().transport, events: events)
        do {
            try await body(host, device)
        } catch {
            try? await host.shutdown(timeout: .seconds(2))
            throw error
        }
        if device.isUnplugged {
            let error = await #expect(throws: LabvisorError.self) { try await host.shutdown(timeout: .seconds(2)) }
            #expect(error?.code == .deviceGone, "an unplugged laser cannot be switched off, and shutdown says so")
        } else {
            try await host.shutdown(timeout: .seconds(2))
            #expect(device.withModel { !$0.emitting }, "shutdown leaves emission off")
        }
    }
}
