import CoherentOBIS
import CoherentOBISSimulator
import Foundation
import LabvisorDriverKit
import LabvisorDriverTesting
import LabvisorSimulation
import Testing

/// The OBIS driver against its simulator, through a real PTY and the real serial port.
@Suite("CoherentOBISDriverTests", .timeLimit(.minutes(1)))
struct CoherentOBISDriverTests {
    @Test func identifiesTheLaser() async throws {
        try await OBISBench.withLaser({ $0.serialNumber = "C488-0042" }) { host, _ in
            let identification = host.identification
            #expect(identification.model == "OBIS 488nm LX 150mW")
            #expect(identification.serialNumber == "C488-0042")
            #expect(identification.firmware == "V1.0.1")
            #expect(identification.details["wavelength"] == .double(488))
            #expect(identification.details["idn"]?.string?.hasPrefix("Coherent, Inc - OBIS") == true)
        }
    }

    @Test func openTurnsHandshakingOnAndThePromptOff() async throws {
        try await OBISBench.withLaser({ $0.handshaking = false; $0.errorQueue = [100] }) { host, device in
            #expect(device.withModel { $0.handshaking })
            #expect(device.withModel { $0.errorQueue }.isEmpty, "open empties the error queue")
            #expect(device.withModel { !$0.prompt })
            #expect(device.withModel { $0.received.first } == "SYSTem:COMMunicate:HANDshaking ON")
            let emission = try await host.read("emission", timeout: .seconds(5))
            #expect(emission == false)
        }
    }

    @Test func declaresTheInterface() {
        let interface = CoherentOBISDriver.interface
        #expect(Set(interface.methods.map(\.name)) == ["emissionOn", "emissionOff", "waitForPower", "clearErrors"])
        #expect(interface.methods.first { $0.name == "emissionOff" }?.immediate == true)
        #expect(
            Set(interface.properties.map(\.name))
                == ["emission", "powerSetpoint", "measuredPower", "powerLimits", "status", "faults", "wavelength"])
        #expect(interface.properties.filter(\.writable).map(\.name).sorted() == ["emission", "powerSetpoint"])
    }

    @Test func theManifestSafeStateIsTheImmediateEmissionOff() throws {
        let manifest = try OBISBench.manifest()
        #expect(manifest.id == CoherentOBISDriver.driverID)
        let method = CoherentOBISDriver.interface.methods.first { $0.name == manifest.safeState.method }
        #expect(method?.immediate == true, "safe_state.method '\(manifest.safeState.method)' is declared and immediate")
    }

    @Test func limitsAndWavelengthAreReadFromTheDevice() async throws {
        try await OBISBench.withLaser({ $0.powerLimits = 0.002...0.11; $0.nominalPower = 0.1; $0.wavelength = 405 }) { host, _ in
            let limits = try await host.read("powerLimits", timeout: .seconds(5))
            #expect(limits == .object(["low": .double(0.002), "high": .double(0.11), "nominal": .double(0.1)]))
            let wavelength = try await host.read("wavelength", timeout: .seconds(5))
            #expect(wavelength == .double(405))
        }
    }

    @Test func emissionWarmsUpToTheSetpoint() async throws {
        let events = CollectedEvents()
        try await OBISBench.withLaser({ $0.warmUp = .milliseconds(1500); $0.mode = "CWC" }, events: events) { host, device in
            try await host.write("powerSetpoint", value: 0.05, timeout: .seconds(5))
            _ = try await host.invoke("emissionOn", arguments: [:], timeout: .seconds(5))
            #expect(device.withModel { $0.emitting && $0.mode == "CWP" })
            let early = try await host.read("measuredPower", timeout: .seconds(5)).number ?? -1
            #expect(early >= 0 && early < 0.05, "measured power ramps up during warm-up: \(early)")
            let warming = try await host.read("status", timeout: .seconds(5))
            #expect(warming["laserEmission"] == true)
            #expect(warming["laserWarmUp"] == true)
            #expect(warming["laserReady"] == false)
            let reached = try await host.invoke("waitForPower", arguments: ["tolerance": 0.01], timeout: .seconds(5))
            #expect(abs((reached.number ?? 0) - 0.05) <= 0.0005)
            // (laserReady, set once the ramp ends, is timed exactly in CoherentOBISDeviceTests.)
            let emitting = try await host.read("status", timeout: .seconds(5))
            #expect(emitting["laserEmission"] == true)
            #expect(emitting["laserStandby"] == false)
            let emission = try await host.read("emission", timeout: .seconds(5))
            #expect(emission == true)
        }
        let powers = events.values(of: "measuredPower").compactMap(\.number)
        #expect(powers.count >= 2)
        #expect(powers.first! < powers.last!, "published measured powers rise: \(powers)")
        #expect(events.values(of: "emission") == [true, false], "emission on, then off at shutdown")
    }

    @Test func emissionPropertyIsWritable() async throws {
        try await OBISBench.withLaser { host, device in
            try await host.write("emission", value: true, timeout: .seconds(5))
            #expect(device.withModel { $0.emitting })
            let emission = try await host.read("emission", timeout: .seconds(5))
            #expect(emission == true)
            try await host.write("emission", value: false, timeout: .seconds(5))
            #expect(device.withModel { !$0.emitting })
            let error = await #expect(throws: LabvisorError.self) {
                try await host.write("emission", value: "bright", timeout: .seconds(5))
            }
            #expect(error?.code == .invalidArgument)
            #expect(error?.fields["argument"] == "emission")
        }
    }

    @Test func setpointRoundTripsAndTheDeviceLimitsAreCheckedBeforeTheDevice() async throws {
        try await OBISBench.withLaser { host, device in
            try await host.write("powerSetpoint", value: 0.1, timeout: .seconds(5))
            let setpoint = try await host.read("powerSetpoint", timeout: .seconds(5))
            #expect(setpoint == .double(0.1))
            #expect(device.withModel { $0.setpoint } == 0.1)
            let before = device.requestCount
            for (value, reason) in [(JSONValue.double(0.5), "above the device limit"), (.double(0.001), "below it"),
                                    (.double(5), "above the declared range"), (.string("max"), "not a number")] {
                let error = await #expect(throws: LabvisorError.self, "\(reason)") {
                    try await host.write("powerSetpoint", value: value, timeout: .seconds(5))
                }
                #expect(error?.code == .invalidArgument, "\(reason)")
                #expect(error?.fields["argument"] == "powerSetpoint", "\(reason)")
            }
            #expect(device.requestCount == before, "rejected set-points never reach the device")
            #expect(device.withModel { $0.setpoint } == 0.1)
        }
    }

    @Test func deviceRangeErrorBecomesInvalidArgument() async throws {
        try await OBISBench.withLaser { host, device in
            // The device narrows its range after open (the driver still knows the old one).
            device.withModel { $0.powerLimits = 0.0015...0.1 }
            let error = await #expect(throws: LabvisorError.self) {
                try await host.write("powerSetpoint", value: 0.15, timeout: .seconds(5))
            }
            #expect(error?.code == .invalidArgument)
            #expect(error?.fields["argument"] == "powerSetpoint")
            #expect(error?.fields["errorCode"] == 220)
            #expect(error?.fields["deviceError"] == "ERR-220")
        }
    }

    @Test(arguments: [
        ("ERR-100", ErrorCode.driverFault, 100), ("ERR-350", .resourceExhausted, 350), ("ERR-310", .driverFault, 310),
        ("ERR-220", .invalidArgument, 220),
    ])
    func deviceErrorRepliesAreMapped(reply: String, code: ErrorCode, number: Int) async throws {
        try await OBISBench.withLaser { host, device in
            device.inject(.replaceReply(Array("\(reply)\r\n".utf8)))
            let error = await #expect(throws: LabvisorError.self) {
                try await host.write("powerSetpoint", value: 0.02, timeout: .seconds(5))
            }
            #expect(error?.code == code)
            #expect(error?.fields["errorCode"] == .int(number))
            #expect(error?.fields["deviceError"] == .string(reply))
            #expect(error?.message.contains("laser-488") == true)
            let emission = try await host.read("emission", timeout: .seconds(5))
            #expect(emission == false, "the next call works")
        }
    }

    @Test func anERR220ToACommandTheDriverChoseIsADriverFault() async throws {
        try await OBISBench.withLaser { host, device in
            device.inject(.replaceReply(Array("ERR-220\r\n".utf8)))
            let error = await #expect(throws: LabvisorError.self) {
                try await host.invoke("emissionOn", arguments: [:], timeout: .seconds(5))
            }
            #expect(error?.code == .driverFault)
            #expect(error?.fields["errorCode"] == 220)
            #expect(error?.fields["argument"] == nil)
        }
    }

    @Test func rejectedCommandsAreQueuedAndClearErrorsEmptiesTheQueue() async throws {
        try await OBISBench.withLaser { host, device in
            device.withModel { $0.powerLimits = 0.0015...0.1 }
            await #expect(throws: LabvisorError.self) {
                try await host.write("powerSetpoint", value: 0.12, timeout: .seconds(5))
            }
            #expect(device.withModel { $0.errorQueue } == [220])
            let status = try await host.read("status", timeout: .seconds(5))
            #expect(status["laserError"] == true)
            _ = try await host.invoke("clearErrors", arguments: [:], timeout: .seconds(5))
            #expect(device.withModel { $0.errorQueue }.isEmpty)
        }
    }

    @Test func aLatchedFaultStopsEmissionAndIsReportedByName() async throws {
        try await OBISBench.withLaser({ $0.warmUp = .zero }) { host, device in
            _ = try await host.invoke("emissionOn", arguments: [:], timeout: .seconds(5))
            let faultsBefore = try await host.read("faults", timeout: .seconds(5))
            #expect(faultsBefore == [])
            device.withModel { $0.faultCode = 0b1 | 1 << 20 }
            let faultsAfter = try await host.read("faults", timeout: .seconds(5))
            #expect(faultsAfter == ["basePlateTemperature", "overPower"])
            let emission = try await host.read("emission", timeout: .seconds(5))
            #expect(emission == false)
            let status = try await host.read("status", timeout: .seconds(5))
            #expect(status["laserFault"] == true)
            #expect(status["laserEmission"] == false)
            #expect(status["code"] == "00000009")
            let power = try await host.read("measuredPower", timeout: .seconds(5))
            #expect(power == .double(0))

            let error = await #expect(throws: LabvisorError.self) {
                try await host.invoke("emissionOn", arguments: [:], timeout: .seconds(5))
            }
            #expect(error?.code == .driverFault)
            #expect(error?.fields["faults"] == ["basePlateTemperature", "overPower"])
            #expect(device.withModel { !$0.emitting })

            device.withModel { $0.faultCode = 0 }
            _ = try await host.invoke("emissionOn", arguments: [:], timeout: .seconds(5))
            #expect(device.withModel { $0.emitting }, "emission works again once the fault clears")
        }
    }

    @Test func aFaultDuringWaitForPowerEndsIt() async throws {
        try await OBISBench.withLaser({ $0.warmUp = .seconds(1000) }) { host, device in
            _ = try await host.invoke("emissionOn", arguments: [:], timeout: .seconds(5))
            let wait = Task { try await host.invoke("waitForPower", arguments: [:], timeout: .seconds(20)) }
            try await Task.sleep(for: .milliseconds(150))
            device.withModel { $0.faultCode = 1 << 1 }
            let error = await #expect(throws: LabvisorError.self) { try await wait.value }
            #expect(error?.code == .driverFault)
            #expect(error?.fields["faults"] == ["diodeTemperature"])
        }
    }

    @Test func immediateEmissionOffInterruptsWaitForPower() async throws {
        try await OBISBench.withLaser({ $0.warmUp = .seconds(1000) }) { host, device in
            _ = try await host.invoke("emissionOn", arguments: [:], timeout: .seconds(5))
            let wait = Task { try await host.invoke("waitForPower", arguments: [:], timeout: .seconds(20)) }
            try await Task.sleep(for: .milliseconds(200))
            let started = ContinuousClock.now
            _ = try await host.invoke("emissionOff", arguments: [:], timeout: .seconds(5))
            #expect(ContinuousClock.now - started < .seconds(3))
            let error = await #expect(throws: LabvisorError.self) { try await wait.value }
            #expect(error?.code == .unavailable)
            #expect(device.withModel { !$0.emitting })
        }
    }

    @Test func shutdownTurnsEmissionOff() async throws {
        let device = try SimulatedSerialDevice(model: CoherentOBISDevice())
        device.start()
        defer { device.stop() }
        let host = try await DriverHost<CoherentOBISDriver>.open(
            instrument: "laser-488", node: device.path, transport: try OBISBench.manifest().transport)
        _ = try await host.invoke("emissionOn", arguments: [:], timeout: .seconds(5))
        #expect(device.withModel { $0.emitting })
        try await host.shutdown(timeout: .seconds(5))
        #expect(device.withModel { !$0.emitting && !$0.emissionRequested })
        let error = await #expect(throws: LabvisorError.self) { try await host.read("emission", timeout: .seconds(1)) }
        #expect(error?.code == .closed)
    }

    @Test func silentLaserTimesOutAndTheNextCallWorks() async throws {
        try await OBISBench.withLaser { host, device in
            device.inject(.noReply(count: 1))
            let error = await #expect(throws: LabvisorError.self) { try await host.read("measuredPower", timeout: .seconds(5)) }
            #expect(error?.code == .timeout)
            let emission = try await host.read("emission", timeout: .seconds(5))
            #expect(emission == false)
        }
    }

    @Test func garbageIsAnErrorThenResyncs() async throws {
        try await OBISBench.withLaser { host, device in
            device.inject(.replaceReply([0xFF, 0xFE, 0x00, 0x41, 0x0D, 0x0A]))
            let error = await #expect(throws: LabvisorError.self) { try await host.read("measuredPower", timeout: .seconds(5)) }
            #expect(error?.code == .driverFault)
            let setpoint = try await host.read("powerSetpoint", timeout: .seconds(5))
            #expect(setpoint == .double(0.01))
        }
    }

    @Test func aReplyWithoutOKIsAnError() async throws {
        try await OBISBench.withLaser { host, device in
            device.inject(.replaceReply(Array("0.010000\r\nNOPE\r\n".utf8)))
            let error = await #expect(throws: LabvisorError.self) { try await host.read("powerSetpoint", timeout: .seconds(5)) }
            #expect(error?.code == .driverFault)
            let wavelength = try await host.read("wavelength", timeout: .seconds(5))
            #expect(wavelength == .double(488))
        }
    }

    @Test func unplugMidCallGivesDeviceGoneFast() async throws {
        try await OBISBench.withLaser { host, device in
            let (thrown, after) = try await DriverTestbed.unplugDuringCall(device) {
                try await host.read("measuredPower", timeout: .seconds(5))
            }
            let error = thrown as? LabvisorError
            #expect(error?.code == .deviceGone, "\(String(describing: thrown))")
            #expect(after < .milliseconds(1500))
        }
    }

    @Test func openFailsOnADeviceThatIsNotAnOBIS() async throws {
        var model = CoherentOBISDevice()
        model.manufacturer = "Acme Photonics"
        let device = try SimulatedSerialDevice(model: model)
        device.start()
        defer { device.stop() }
        let error = await #expect(throws: LabvisorError.self) {
            _ = try await DriverHost<CoherentOBISDriver>.open(
                instrument: "laser-488", node: device.path, transport: try OBISBench.manifest().transport)
        }
        #expect(error?.code == .driverFault)
        #expect(error?.message.contains("not a Coherent OBIS laser") == true)
    }
}
