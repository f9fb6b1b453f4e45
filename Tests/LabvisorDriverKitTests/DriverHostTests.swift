import ExampleHeater
import ExampleHeaterSimulator
import LabvisorDriverKit
import LabvisorDriverTesting
import LabvisorReferenceDrivers
import LabvisorSimulation
import Testing

/// The host's routing, through the catalog (type-erased, as the daemon uses it), with the
/// example driver on its simulator.
@Suite("DriverHostTests", .timeLimit(.minutes(1)))
struct DriverHostTests {
    func withInstrument(_ body: (any HostedInstrument, SimulatedSerialDevice<ExampleHeaterDevice>) async throws -> Void) async throws {
        let device = try SimulatedSerialDevice(model: ExampleHeaterDevice())
        device.start()
        defer { device.stop() }
        let entry = try ReferenceDrivers.drivers.entry("example-heater")
        let transport = DriverTransport.serial(SerialTransport(settings: SerialSettings(baudRate: 115200), lineEnding: "\r\n"))
        let connection = try DriverConnection.open(transport, node: device.path)
        let instrument = try await entry.open(DriverContext(instrument: "heater-9", connection: connection), nil)
        try await body(instrument, device)
        try await instrument.shutdown(timeout: .seconds(2))
    }

    @Test func catalogDescribesTheDriverBeforeOpeningIt() throws {
        let interface = try ReferenceDrivers.drivers.entry("example-heater").interface
        #expect(interface.methods.map(\.name) == ["heatOn", "heatOff", "rampTo"])
        let ramp = try interface.method("rampTo")
        #expect(ramp.arguments.map(\.name) == ["celsius", "tolerance"])
        #expect(ramp.arguments[0].value == ValueSchema(kind: .double, unit: "°C", minimum: 0, maximum: 150))
        #expect(ramp.arguments[1].defaultValue == 0.5)
        #expect(ramp.result == ValueSchema(kind: .double, unit: "°C"))
        #expect(try interface.method("heatOff").immediate)
        #expect(try interface.property("setpoint").writable)
        #expect(try !interface.property("temperature").writable)
        let missing = #expect(throws: LabvisorError.self) { try ReferenceDrivers.drivers.entry("nope") }
        #expect(missing?.code == .notFound)
        #expect(missing?.message.contains("example-heater") == true)
    }

    @Test func badCallsNeverReachTheDevice() async throws {
        try await withInstrument { instrument, device in
            let before = device.requestCount
            let unknown = await #expect(throws: LabvisorError.self) {
                try await instrument.invoke("explode", arguments: [:], timeout: .seconds(1))
            }
            #expect(unknown?.code == .unknownMethod)
            let wrongType = await #expect(throws: LabvisorError.self) {
                try await instrument.invoke("rampTo", arguments: ["celsius": "hot"], timeout: .seconds(1))
            }
            #expect(wrongType?.code == .invalidArgument)
            #expect(wrongType?.fields["argument"] == "celsius")
            let readOnly = await #expect(throws: LabvisorError.self) {
                try await instrument.write("temperature", value: 20, timeout: .seconds(1))
            }
            #expect(readOnly?.code == .invalidArgument)
            #expect(readOnly?.fields["readOnly"] == true)
            let noProperty = await #expect(throws: LabvisorError.self) {
                try await instrument.read("humidity", timeout: .seconds(1))
            }
            #expect(noProperty?.code == .notFound)
            #expect(device.requestCount == before)
        }
    }

    @Test func deadlineCancelsTheCallInTheDriver() async throws {
        try await withInstrument { instrument, device in
            device.withModel { $0.timeConstant = 1000 }
            let started = ContinuousClock.now
            let error = await #expect(throws: LabvisorError.self) {
                try await instrument.invoke("rampTo", arguments: ["celsius": 120], timeout: .seconds(1))
            }
            #expect(error?.code == .deadlineExceeded)
            #expect(ContinuousClock.now - started < .seconds(4))
            let heating = try await instrument.read("heating", timeout: .seconds(5))
            #expect(heating == true, "the ramp had switched the heater on before its deadline")
        }
    }

    @Test func onewayOutcomeIsPublished() async throws {
        let device = try SimulatedSerialDevice(model: ExampleHeaterDevice())
        device.start()
        defer { device.stop() }
        let events = RecordedEvents()
        let transport = DriverTransport.serial(SerialTransport(settings: SerialSettings(baudRate: 115200), lineEnding: "\r\n"))
        let host = try await DriverHost<ExampleHeaterDriver>.open(
            instrument: "heater-2", node: device.path, transport: transport, events: events)
        let call = try host.invokeOneway("heatOn", arguments: [:], timeout: .seconds(2))
        var outcome: Event?
        for _ in 0..<200 where outcome == nil {
            outcome = events.events.first { $0.kind == .callCompleted || $0.kind == .callFailed }
            if outcome == nil { try await Task.sleep(for: .milliseconds(10)) }
        }
        #expect(outcome?.kind == .callCompleted)
        #expect(outcome?.fields["call"] == .int(Int(call)))
        #expect(device.withModel { $0.heating })
        try await host.shutdown(timeout: .seconds(2))
    }
}
