import Foundation
import LabvisorDriverKit
import LabvisorSimulation

/// What a driver's tests need to run the driver against its simulator without hardware:
/// the driver folder's manifest, and the driver opened through the real serial port and
/// `DriverHost` on a fresh `SimulatedSerialDevice`.
///
/// ```swift
/// try await DriverTestbed.withDriver(ExampleHeaterDriver.self, on: ExampleHeaterDevice(),
///     manifest: try DriverTestbed.manifest(besides: #filePath)) { host, device in
///     try await host.write("setpoint", value: 42.5, timeout: .seconds(5))
///     #expect(device.withModel { $0.setpoint } == 42.5)
/// }
/// ```
public enum DriverTestbed {
    /// The `driver.toml` of the driver folder holding `testFile` (`drivers/<id>/Tests/X.swift`),
    /// parsed as the daemon parses it.
    public static func manifest(besides testFile: String) throws -> DriverManifest {
        let folder = URL(fileURLWithPath: testFile).deletingLastPathComponent().deletingLastPathComponent()
        let file = folder.appendingPathComponent("driver.toml").path
        return try DriverManifestParser.parse(try String(contentsOfFile: file, encoding: .utf8), file: file)
    }

    /// Runs `body` with `Driver` open on a fresh simulator of `model`, then shuts the driver
    /// down (to its safe state) and stops the simulator, however `body` ended.
    ///
    /// When the test unplugged the device, shutdown must fail with `deviceGone` (an unplugged
    /// instrument cannot reach its safe state, and says so); any other outcome is an error.
    ///
    /// - Parameter isSafe: checked on the simulator's state after a normal shutdown: whether
    ///   the device is in its safe state (laser off, heater off); failing it is an error.
    public static func withDriver<Driver: InstrumentDriver, Model: SerialDeviceModel>(
        _ driver: Driver.Type, on model: Model, manifest: DriverManifest, instrument: String = "instrument-1",
        events: (any EventSink)? = nil, shutdownTimeout: Duration = .seconds(5), isSafe: ((Model) -> Bool)? = nil,
        _ body: (DriverHost<Driver>, SimulatedSerialDevice<Model>) async throws -> Void
    ) async throws {
        let device = try SimulatedSerialDevice(model: model)
        device.start()
        defer { device.stop() }
        let host = try await DriverHost<Driver>.open(
            instrument: instrument, node: device.path, transport: manifest.transport, events: events)
        do {
            try await body(host, device)
        } catch {
            try? await host.shutdown(timeout: shutdownTimeout)
            throw error
        }
        guard device.isUnplugged else {
            try await host.shutdown(timeout: shutdownTimeout)
            if let isSafe, !device.withModel({ isSafe($0) }) {
                throw LabvisorError(.driverFault, "shutting down \(instrument) did not leave its device in the safe state")
            }
            return
        }
        do {
            try await host.shutdown(timeout: shutdownTimeout)
        } catch let error as LabvisorError where error.code == .deviceGone {
            return
        }
        throw LabvisorError(.driverFault, "shutting down \(instrument) after its device was unplugged did not fail with deviceGone")
    }

    /// Unplugs `device` while `call` waits for a reply the device holds back (a stall), and
    /// returns what `call` threw and how long after the unplug it ended: a test expects
    /// `deviceGone` at once, not the call's timeout.
    public static func unplugDuringCall<Model: SerialDeviceModel>(
        _ device: SimulatedSerialDevice<Model>, _ call: @escaping @Sendable () async throws -> JSONValue
    ) async throws -> (error: (any Error)?, after: Duration) {
        device.inject(.stall(.seconds(5)))
        let running = Task { try await call() }
        try await Task.sleep(for: .milliseconds(100))
        let unplugged = ContinuousClock.now
        device.unplug()
        do {
            _ = try await running.value
            return (nil, ContinuousClock.now - unplugged)
        } catch {
            return (error, ContinuousClock.now - unplugged)
        }
    }
}
