import Foundation
import LabvisorDriverKit
import LabvisorSimulation
import ThorlabsAPT
import ThorlabsAPTSimulator
import Testing

/// Keeps every event published, and lets a test wait for one.
final class CollectedEvents: EventSink {
    private struct Waiter {
        var id: UInt64
        var matches: @Sendable (Event) -> Bool
        var continuation: WaitContinuation<Void, any Error>
    }

    private struct State {
        var events: [Event] = []
        var waiters: [Waiter] = []
        var nextID: UInt64 = 0
    }

    private let state = LockedState(State())

    func publish(_ event: Event) {
        let matched = state.withLock { state -> [Waiter] in
            state.events.append(event)
            let matched = state.waiters.filter { $0.matches(event) }
            state.waiters.removeAll { $0.matches(event) }
            return matched
        }
        for waiter in matched { waiter.continuation.resume() }
    }

    /// The values published for `property`, in order.
    func values(of property: String) -> [JSONValue] {
        state.withLock { $0.events }.filter { $0.kind == .propertyChanged && $0.fields["property"] == .string(property) }
            .compactMap { $0.fields["value"] }
    }

    /// Waits until a `property` change whose value passes `matches` has been published.
    ///
    /// - Throws: `timeout` naming `property` when none came within `timeout`.
    func waitFor(
        _ property: String, timeout: Duration = .seconds(10), _ matches: @escaping @Sendable (JSONValue) -> Bool
    ) async throws {
        let accepts: @Sendable (Event) -> Bool = { event in
            event.kind == .propertyChanged && event.fields["property"] == .string(property)
                && event.fields["value"].map(matches) == true
        }
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        try await suspend(
            until: .now + timeout,
            register: { (continuation: WaitContinuation<Void, any Error>) in
                let seen = state.withLock { state in
                    if state.events.contains(where: accepts) { return true }
                    state.waiters.append(Waiter(id: id, matches: accepts, continuation: continuation))
                    return false
                }
                if seen { continuation.resume() }
            },
            expire: { [state] _ in
                let waiter = state.withLock { state in
                    state.waiters.firstIndex { $0.id == id }.map { state.waiters.remove(at: $0) }
                }
                waiter?.continuation.resume(throwing: LabvisorError(
                    .timeout, "no '\(property)' event matched within \(timeout.seconds) s"))
            })
    }
}

/// Opening the driver on a fresh simulator, through a real PTY and the real serial port.
enum APTTestbed {
    /// This driver's folder.
    static var folder: URL { URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent() }

    /// The manifest in this folder, parsed as the daemon parses it.
    static func manifest() throws -> DriverManifest {
        let file = folder.appendingPathComponent("driver.toml").path
        return try DriverManifestParser.parse(try String(contentsOfFile: file, encoding: .utf8), file: file)
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
        let device = try SimulatedSerialDevice(model: model)
        device.start()
        defer { device.stop() }
        let host = try await DriverHost<ThorlabsAPTDriver>.open(
            instrument: "stage-x", node: device.path, transport: try manifest().transport, events: events)
        do {
            try await body(host, device)
        } catch {
            try? await host.shutdown(timeout: .seconds(2))
            throw error
        }
        if device.isUnplugged {
            let error = await #expect(throws: LabvisorError.self) { try await host.shutdown(timeout: .seconds(2)) }
            #expect(error?.code == .deviceGone, "an unplugged controller cannot be stopped, and shutdown says so")
        } else {
            try await host.shutdown(timeout: .seconds(2))
        }
    }

    /// A HW_RICHRESPONSE from the controller, written out by hand from the protocol document.
    static func richResponse(about id: UInt16, code: UInt16, _ text: String) -> [UInt8] {
        var data: [UInt8] = [UInt8(id & 0xFF), UInt8(id >> 8), UInt8(code & 0xFF), UInt8(code >> 8)]
        data += Array(text.utf8.prefix(64)) + [UInt8](repeating: 0, count: 64 - min(64, text.utf8.count))
        return [0x81, 0x00, UInt8(data.count), 0x00, 0x81, 0x50] + data
    }
}
