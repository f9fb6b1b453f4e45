import Foundation
import LabvisorDriverKit
import LabvisorDriverTesting
import LabvisorSimulation
import Testing
import ZaberASCII
import ZaberASCIISimulator

/// The Zaber ASCII driver against its simulator, through a real PTY and DriverHost.
@Suite("ZaberASCIITests", .timeLimit(.minutes(1)))
struct ZaberASCIITests {
    typealias Harness = ZaberHarness

    @Test func identifiesTheDevice() async throws {
        try await Harness.withStage({ $0.serialNumber = 4242; $0.deviceID = 30_341; $0.firmwareVersion = "7.40" }) { host, _ in
            let identification = host.identification
            #expect(identification.model == "Zaber device 30341")
            #expect(identification.serialNumber == "4242")
            #expect(identification.firmware == "7.40")
            #expect(identification.details["axisCount"] == 2)
            let count = try await host.read("axisCount", timeout: .seconds(5))
            #expect(count == 2)
        }
    }

    @Test func homesAndMovesAbsoluteAndRelativeInMillimetres() async throws {
        try await Harness.withStage { host, device in
            try await Harness.home(host)
            #expect(device.withModel { $0.axes.allSatisfy(\.homed) })
            let reached = try await host.invoke("moveAbsolute", arguments: ["position": 2.5], timeout: .seconds(5))
            #expect(abs((reached.number ?? -1) - 2.5) <= Harness.microstep)
            #expect(device.withModel { $0.position(axis: 1) } == Int((2.5 / Harness.microstep).rounded()))
            let relative = try await host.invoke(
                "moveRelative", arguments: ["distance": -1, "axis": 1], timeout: .seconds(5))
            #expect(abs((relative.number ?? -1) - 1.5) <= 2 * Harness.microstep)
            _ = try await host.invoke("moveAbsolute", arguments: ["position": 0.75, "axis": 2], timeout: .seconds(5))
            let axis2 = try await host.invoke("axisPosition", arguments: ["axis": 2], timeout: .seconds(5))
            #expect(abs((axis2.number ?? -1) - 0.75) <= Harness.microstep)
            let position = try await host.read("position", timeout: .seconds(5))
            #expect(abs((position.number ?? -1) - 1.5) <= 2 * Harness.microstep)
            let positions = try await host.read("positions", timeout: .seconds(5))
            #expect(positions.array?.count == 2)
            #expect(abs((positions.array?.last?.number ?? -1) - 0.75) <= Harness.microstep)
        }
    }

    @Test func moveReturnsWhenIdleAndPublishesIntermediatePositions() async throws {
        let events = ZaberCollectedEvents()
        try await Harness.withStage({ $0.axes[0].maxSpeed = 163_840 }, events: events) { host, device in
            try await Harness.home(host)
            events.removeAll()
            let started = ContinuousClock.now
            _ = try await host.invoke("moveAbsolute", arguments: ["position": 2], timeout: .seconds(10))
            // 2 mm at 4.76 mm/s with 60 mm/s² ramps: about 0.5 s.
            #expect(ContinuousClock.now - started > .milliseconds(350))
            #expect(!device.withModel { $0.isMoving(axis: 1) })
            let busy = try await host.read("busy", timeout: .seconds(5))
            #expect(busy == false)
        }
        let positions = events.positions
        let intermediate = positions.filter { $0 > 0.01 && $0 < 1.99 }
        #expect(intermediate.count >= 3, "positions published during the move: \(positions)")
        #expect(intermediate == intermediate.sorted(), "the position rises monotonically: \(intermediate)")
    }

    @Test func velocityRoundTripsInMillimetresPerSecond() async throws {
        try await Harness.withStage { host, device in
            try await host.write("velocity", value: 2.0, timeout: .seconds(5))
            let expected = Int((2.0 / Harness.microstep * 1.6384).rounded())
            #expect(device.withModel { $0.axes.map(\.maxSpeed) } == [expected, expected])
            let velocity = try await host.read("velocity", timeout: .seconds(5))
            #expect(abs((velocity.number ?? 0) - 2.0) < 0.001)
            _ = try await host.invoke("setAxisVelocity", arguments: ["velocity": 1.0, "axis": 2], timeout: .seconds(5))
            let axis2 = try await host.invoke("axisVelocity", arguments: ["axis": 2], timeout: .seconds(5))
            #expect(abs((axis2.number ?? 0) - 1.0) < 0.001)
            let before = device.requestCount
            let error = await #expect(throws: LabvisorError.self) {
                try await host.write("velocity", value: -3, timeout: .seconds(5))
            }
            #expect(error?.code == .invalidArgument)
            #expect(error?.fields["argument"] == "velocity")
            #expect(device.requestCount == before)
        }
    }

    @Test func argumentsAreCheckedBeforeTheDevice() async throws {
        try await Harness.withStage { host, device in
            try await Harness.home(host)
            let before = device.requestCount
            let wrongType = await #expect(throws: LabvisorError.self) {
                try await host.invoke("moveAbsolute", arguments: ["position": "far"], timeout: .seconds(5))
            }
            #expect(wrongType?.code == .invalidArgument)
            #expect(wrongType?.fields["argument"] == "position")
            let missing = await #expect(throws: LabvisorError.self) {
                try await host.invoke("moveRelative", arguments: [:], timeout: .seconds(5))
            }
            #expect(missing?.fields["argument"] == "distance")
            let noAxis = await #expect(throws: LabvisorError.self) {
                try await host.invoke("moveAbsolute", arguments: ["position": 1, "axis": 3], timeout: .seconds(5))
            }
            #expect(noAxis?.code == .invalidArgument)
            #expect(noAxis?.fields["argument"] == "axis")
            #expect(device.requestCount == before, "none of these reached the device")
            // Beyond the travel the device reports (limit.max ≈ 50 mm): refused after reading the position.
            let beyond = await #expect(throws: LabvisorError.self) {
                try await host.invoke("moveAbsolute", arguments: ["position": 80], timeout: .seconds(5))
            }
            #expect(beyond?.code == .invalidArgument)
            #expect(beyond?.fields["argument"] == "position")
            #expect(!device.withModel { $0.received.contains { $0.contains("move") } })
        }
    }

    @Test func movingBeforeHomingIsRefusedWithWR() async throws {
        try await Harness.withStage { host, device in
            let error = await #expect(throws: LabvisorError.self) {
                try await host.invoke("moveRelative", arguments: ["distance": 1], timeout: .seconds(5))
            }
            #expect(error?.code == .unavailable)
            #expect(error?.fields["warning"] == "WR")
            #expect(device.withModel { $0.position(axis: 1) } == 2_000)
            let warnings = try await host.read("warnings", timeout: .seconds(5))
            #expect(warnings.array?.count == 2)
            #expect(warnings.array?.first?.object?["flag"] == "WR")
        }
    }

    @Test func rejectedCommandsBecomeErrorsWithTheReason() async throws {
        try await Harness.withStage { host, device in
            device.inject(.replaceReply(Array("@01 1 RJ IDLE -- BADCOMMAND\r\n".utf8)))
            let badCommand = await #expect(throws: LabvisorError.self) {
                try await host.invoke("axisPosition", arguments: ["axis": 1], timeout: .seconds(5))
            }
            #expect(badCommand?.code == .driverFault)
            #expect(badCommand?.fields["reason"] == "BADCOMMAND")
            device.inject(.replaceReply(Array("@01 2 RJ IDLE -- BADDATA\r\n".utf8)))
            let badData = await #expect(throws: LabvisorError.self) {
                try await host.invoke("setAxisVelocity", arguments: ["velocity": 5, "axis": 2], timeout: .seconds(5))
            }
            #expect(badData?.code == .invalidArgument)
            #expect(badData?.fields["argument"] == "velocity")
            #expect(badData?.fields["reason"] == "BADDATA")
            // The simulator itself rejects a speed beyond its range with BADDATA.
            let tooFast = await #expect(throws: LabvisorError.self) {
                try await host.write("velocity", value: 9_000, timeout: .seconds(5))
            }
            #expect(tooFast?.code == .invalidArgument)
            #expect(tooFast?.fields["reason"] == "BADDATA")
        }
    }

    @Test func stallIsAFaultListedInWarningsUntilCleared() async throws {
        try await Harness.withStage { host, device in
            try await Harness.home(host)
            device.withModel { $0.stallNextMove(axis: 1, after: 10_000) }
            let error = await #expect(throws: LabvisorError.self) {
                try await host.invoke("moveAbsolute", arguments: ["position": 3], timeout: .seconds(5))
            }
            #expect(error?.code == .driverFault)
            #expect(error?.fields["warning"] == "FS")
            let warnings = try await host.read("warnings", timeout: .seconds(5))
            #expect(warnings.array == [["axis": 1, "flag": "FS", "meaning": "stalled and stopped"]])
            _ = try await host.invoke("clearWarnings", arguments: [:], timeout: .seconds(5))
            let cleared = try await host.read("warnings", timeout: .seconds(5))
            #expect(cleared.array == [])
        }
    }

    @Test func immediateStopInterruptsALongMove() async throws {
        try await Harness.withStage({ $0.axes[0].maxSpeed = 163_840 }) { host, device in
            try await Harness.home(host)
            let move = Task { try await host.invoke("moveAbsolute", arguments: ["position": 40], timeout: .seconds(20)) }
            try await Task.sleep(for: .milliseconds(300))
            #expect(device.withModel { $0.isMoving(axis: 1) })
            let started = ContinuousClock.now
            _ = try await host.invoke("stop", arguments: [:], timeout: .seconds(5))
            // The interrupted move sends its own stop, then the immediate stop runs: two round trips.
            #expect(ContinuousClock.now - started < .seconds(3))
            let error = await #expect(throws: LabvisorError.self) { try await move.value }
            #expect(error?.code == .unavailable)
            try await Task.sleep(for: .milliseconds(150))  // the deceleration ramp: 4.8 mm/s at 60 mm/s² is 80 ms
            #expect(!device.withModel { $0.isMoving(axis: 1) })
            let position = try await host.read("position", timeout: .seconds(5))
            // Stopped on the way: past the start, well short of the 40 mm target.
            #expect((position.number ?? 0) > 0.1 && (position.number ?? 40) < 30)
        }
    }

    @Test func aMovePastItsDeadlineIsStopped() async throws {
        try await Harness.withStage({ $0.axes[0].maxSpeed = 163_840 }) { host, device in
            try await Harness.home(host)
            let error = await #expect(throws: LabvisorError.self) {
                try await host.invoke("moveAbsolute", arguments: ["position": 40], timeout: .milliseconds(400))
            }
            #expect(error?.code == .deadlineExceeded)
            try await Task.sleep(for: .milliseconds(150))
            #expect(!device.withModel { $0.isMoving(axis: 1) }, "the driver stopped the axis when the deadline passed")
            #expect(device.withModel { $0.received.last?.hasSuffix("stop") ?? false })
        }
    }

    @Test func shutdownStopsEveryAxis() async throws {
        var model = Harness.fastController()
        for index in model.axes.indices {
            model.axes[index].homed = true
            model.axes[index].maxSpeed = 163_840
        }
        let device = try SimulatedSerialDevice(model: model)
        device.start()
        defer { device.stop() }
        let host = try await Harness.Host.open(
            instrument: "stage-1", node: device.path, transport: try Harness.manifest().transport)
        _ = try host.invokeOneway("moveAbsolute", arguments: ["position": 40, "axis": 2], timeout: .seconds(20))
        // The move starts when the oneway call reaches the controller (later on a loaded host).
        let deadline = ContinuousClock.now + .seconds(5)
        while !device.withModel({ $0.isMoving(axis: 2) }), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(device.withModel { $0.isMoving(axis: 2) })
        try await host.shutdown(timeout: .seconds(5))
        try await Task.sleep(for: .milliseconds(150))
        #expect(device.withModel { !$0.isMoving(axis: 1) && !$0.isMoving(axis: 2) })
        #expect(device.withModel { $0.received.contains { $0.hasPrefix("/1 0 ") && $0.hasSuffix(" stop") } })
        let error = await #expect(throws: LabvisorError.self) { try await host.read("position", timeout: .seconds(1)) }
        #expect(error?.code == .closed)
    }

    @Test func silentDeviceTimesOutAndALateReplyCannotAnswerTheNextCommand() async throws {
        try await Harness.withStage { host, device in
            device.inject(.noReply(count: 1))
            let silent = await #expect(throws: LabvisorError.self) { try await host.read("busy", timeout: .seconds(5)) }
            #expect(silent?.code == .timeout)
            // A reply held back past the timeout arrives while the next command waits: the
            // message id tells them apart.
            device.inject(.stall(.milliseconds(2_300)))
            let stalled = await #expect(throws: LabvisorError.self) { try await host.read("axisCount", timeout: .seconds(5)) }
            #expect(stalled?.code == .timeout)
            let position = try await host.read("position", timeout: .seconds(5))
            #expect(abs((position.number ?? 0) - 2_000 * Harness.microstep) < 1e-9)
        }
    }

    @Test func garbageIsAnErrorThenResyncs() async throws {
        try await Harness.withStage { host, device in
            // A line that is not a reply of this device is noise: the command still waits for its
            // reply, which never comes.
            device.inject(.replaceReply([0xFF, 0xFE, 0x00, 0x41, 0x0D, 0x0A]))
            let noise = await #expect(throws: LabvisorError.self) { try await host.read("busy", timeout: .seconds(5)) }
            #expect(noise?.code == .timeout)
            // A malformed reply of this device is a fault.
            device.inject(.replaceReply(Array("@01 0 07 OK ?? -- 0\r\n".utf8)))
            let malformed = await #expect(throws: LabvisorError.self) { try await host.read("busy", timeout: .seconds(5)) }
            #expect(malformed?.code == .driverFault)
            device.inject(.prefixGarbage(Array("#01 0 noise\r\n!01 1 IDLE --\r\n".utf8)))
            let count = try await host.read("axisCount", timeout: .seconds(5))
            #expect(count == 2, "info and alert lines before a reply are not replies")
            device.inject(.truncateReply(6))
            let truncated = await #expect(throws: LabvisorError.self) { try await host.read("busy", timeout: .seconds(5)) }
            #expect(truncated?.code == .timeout)
            let busy = try await host.read("busy", timeout: .seconds(5))
            #expect(busy == false)
        }
    }

    @Test func unplugMidCallGivesDeviceGoneFast() async throws {
        try await Harness.withStage { host, device in
            let (thrown, after) = try await DriverTestbed.unplugDuringCall(device) {
                try await host.read("position", timeout: .seconds(5))
            }
            let error = thrown as? LabvisorError
            #expect(error?.code == .deviceGone, "\(String(describing: thrown))")
            #expect(after < .milliseconds(1500), "at once, not after the 2 s reply timeout")
        }
    }

    @Test func unplugDuringAMoveGivesDeviceGone() async throws {
        try await Harness.withStage({ $0.axes[0].maxSpeed = 163_840 }) { host, device in
            try await Harness.home(host)
            let move = Task { try await host.invoke("moveAbsolute", arguments: ["position": 40], timeout: .seconds(20)) }
            try await Task.sleep(for: .milliseconds(200))
            device.inject(.unplugOnNextRequest)
            let error = await #expect(throws: LabvisorError.self) { try await move.value }
            #expect(error?.code == .deviceGone)
        }
    }

    @Test func movesCompleteWithAlertsOn() async throws {
        try await Harness.withStage({ $0.alertsEnabled = true }) { host, device in
            try await Harness.home(host)
            let reached = try await host.invoke("moveAbsolute", arguments: ["position": 1, "axis": 2], timeout: .seconds(5))
            #expect(abs((reached.number ?? 0) - 1) <= Harness.microstep)
            let waited = try await host.invoke("waitUntilIdle", arguments: [:], timeout: .seconds(5))
            #expect(waited == .null)
        }
    }
}
