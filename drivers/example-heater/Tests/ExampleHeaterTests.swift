import ExampleHeater
import ExampleHeaterSimulator
import Foundation
import LabvisorDriverKit
import LabvisorDriverTesting
import LabvisorSimulation
import Testing

/// The example driver against its simulator, through a real PTY and the real serial port.
@Suite("ExampleHeaterTests", .timeLimit(.minutes(1)))
struct ExampleHeaterTests {
    /// Runs `body` with the driver open on a fresh simulator; afterwards the heater must be off.
    func withHeater(
        _ configure: (inout ExampleHeaterDevice) -> Void = { _ in },
        events: RecordedEvents? = nil,
        _ body: (DriverHost<ExampleHeaterDriver>, SimulatedSerialDevice<ExampleHeaterDevice>) async throws -> Void
    ) async throws {
        var model = ExampleHeaterDevice()
        configure(&model)
        try await DriverTestbed.withDriver(
            ExampleHeaterDriver.self, on: model, manifest: try DriverTestbed.manifest(besides: #filePath),
            instrument: "heater-1", events: events, isSafe: { !$0.heating }, body)
    }

    @Test func identifiesTheDevice() async throws {
        try await withHeater({ $0.serialNumber = "TC1-7" }) { host, _ in
            #expect(host.identification == InstrumentIdentification(model: "TC-1", serialNumber: "TC1-7", firmware: "1.2.0"))
        }
    }

    @Test func setpointRoundTripsAndRangeIsCheckedBeforeTheDevice() async throws {
        try await withHeater { host, device in
            try await host.write("setpoint", value: 42.5, timeout: .seconds(5))
            let setpoint = try await host.read("setpoint", timeout: .seconds(5))
            #expect(setpoint == .double(42.5))
            #expect(device.withModel { $0.setpoint } == 42.5)
            let before = device.requestCount
            let error = await #expect(throws: LabvisorError.self) {
                try await host.write("setpoint", value: 400, timeout: .seconds(5))
            }
            #expect(error?.code == .invalidArgument)
            #expect(error?.fields["argument"] == "setpoint")
            #expect(device.requestCount == before, "an out-of-range value never reaches the device")
        }
    }

    @Test func rampReachesTheTargetAndPublishesTemperatures() async throws {
        let events = RecordedEvents()
        try await withHeater(events: events) { host, device in
            let reached = try await host.invoke("rampTo", arguments: ["celsius": 30], timeout: .seconds(10))
            #expect(abs((reached.number ?? 0) - 30) <= 0.5)
            #expect(device.withModel { $0.heating })
        }
        let temperatures = events.events.filter { $0.kind == .propertyChanged && $0.instrument == "heater-1" }
            .compactMap { $0.fields["value"]?.number }
        #expect(temperatures.count >= 2)
        #expect(temperatures.first! < temperatures.last!, "temperatures rise during the ramp: \(temperatures)")
    }

    @Test func immediateHeatOffInterruptsARamp() async throws {
        try await withHeater({ $0.timeConstant = 1000 }) { host, device in
            let ramp = Task { try await host.invoke("rampTo", arguments: ["celsius": 100], timeout: .seconds(20)) }
            try await Task.sleep(for: .milliseconds(200))
            let started = ContinuousClock.now
            _ = try await host.invoke("heatOff", arguments: [:], timeout: .seconds(5))
            #expect(ContinuousClock.now - started < .seconds(3), "at once, not after the 20 s deadline")
            let error = await #expect(throws: LabvisorError.self) { try await ramp.value }
            #expect(error?.code == .unavailable)
            #expect(device.withModel { !$0.heating })
        }
    }

    @Test func shutdownLeavesTheHeaterOff() async throws {
        let device = try SimulatedSerialDevice(model: ExampleHeaterDevice())
        device.start()
        defer { device.stop() }
        let host = try await DriverHost<ExampleHeaterDriver>.open(
            instrument: "heater-1", node: device.path, transport: try DriverTestbed.manifest(besides: #filePath).transport)
        _ = try await host.invoke("heatOn", arguments: [:], timeout: .seconds(5))
        #expect(device.withModel { $0.heating })
        try await host.shutdown(timeout: .seconds(5))
        #expect(device.withModel { !$0.heating })
        let error = await #expect(throws: LabvisorError.self) { try await host.read("temperature", timeout: .seconds(1)) }
        #expect(error?.code == .closed)
    }

    @Test func deviceErrorRepliesBecomeErrors() async throws {
        try await withHeater { host, device in
            device.inject(.replaceReply(Array("ERR 7 sensor open\r\n".utf8)))
            let error = await #expect(throws: LabvisorError.self) { try await host.read("temperature", timeout: .seconds(5)) }
            #expect(error?.code == .driverFault)
            #expect(error?.fields["deviceError"] == "7")
            let heating = try await host.read("heating", timeout: .seconds(5))
            #expect(heating == false)
        }
    }

    @Test func silentDeviceTimesOutAndTheNextCallWorks() async throws {
        try await withHeater { host, device in
            device.inject(.noReply(count: 1))
            let error = await #expect(throws: LabvisorError.self) { try await host.read("temperature", timeout: .seconds(5)) }
            #expect(error?.code == .timeout)
            let heating = try await host.read("heating", timeout: .seconds(5))
            #expect(heating == false)
        }
    }

    @Test func garbageIsAnErrorThenResyncs() async throws {
        try await withHeater { host, device in
            device.inject(.replaceReply([0xFF, 0xFE, 0x00, 0x41, 0x0D, 0x0A]))
            let error = await #expect(throws: LabvisorError.self) { try await host.read("temperature", timeout: .seconds(5)) }
            #expect(error?.code == .driverFault)
            let setpoint = try await host.read("setpoint", timeout: .seconds(5))
            #expect(setpoint == .double(25))
        }
    }

    @Test func unplugMidCallGivesDeviceGoneFast() async throws {
        try await withHeater { host, device in
            let (thrown, after) = try await DriverTestbed.unplugDuringCall(device) {
                try await host.read("temperature", timeout: .seconds(5))
            }
            let error = thrown as? LabvisorError
            #expect(error?.code == .deviceGone, "\(String(describing: thrown))")
            #expect(after < .milliseconds(1500), "at once, not after the 2 s reply timeout")
        }
    }
}
