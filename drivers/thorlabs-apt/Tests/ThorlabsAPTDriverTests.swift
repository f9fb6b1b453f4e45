import Foundation
import LabvisorDriverKit
import LabvisorDriverTesting
import LabvisorSimulation
import ThorlabsAPT
import ThorlabsAPTSimulator
import Testing

/// The APT driver against the KDC101 simulator, through a real PTY and the real serial port.
@Suite("ThorlabsAPTDriverTests", .timeLimit(.minutes(1)))
struct ThorlabsAPTDriverTests {
    let countsPerMillimetre = 512 * 67.49

    @Test func identifiesTheControllerAndItsScale() async throws {
        try await APTTestbed.withStage({ $0.serialNumber = 27_654_321 }) { host, _ in
            #expect(host.identification.model == "KDC101")
            #expect(host.identification.serialNumber == "27654321")
            #expect(host.identification.firmware == "3.0.10")
            #expect(host.identification.details["stage"] == "Z8xx")
            #expect(host.identification.details["unit"] == "mm")
            let unit = try await host.read("unit", timeout: .seconds(2))
            #expect(unit == "mm")
        }
    }

    @Test func homesThenMovesAbsoluteAndRelative() async throws {
        let events = CollectedEvents()
        try await APTTestbed.withStage({ APTTestbed.fast(&$0); $0.homeVelocity = 5 }, events: events) { host, device in
            let homedNow = try await host.read("homed", timeout: .seconds(2))
            #expect(homedNow == false)
            _ = try await host.invoke("moveAbsolute", arguments: ["position": 1], timeout: .seconds(5))
            _ = try await host.invoke("home", arguments: [:], timeout: .seconds(5))
            let homedAfter = try await host.read("homed", timeout: .seconds(2))
            #expect(homedAfter == true)
            let homePosition = try await host.read("position", timeout: .seconds(2))
            #expect(homePosition == .double(0))

            let reached = try await host.invoke("moveAbsolute", arguments: ["position": 2.5], timeout: .seconds(5))
            #expect(abs((reached.number ?? 0) - 2.5) < 1 / countsPerMillimetre)
            #expect(device.withModel { abs($0.position - 2.5 * countsPerMillimetre) } <= 0.5)
            let relative = try await host.invoke("moveRelative", arguments: ["distance": -1.25], timeout: .seconds(5))
            #expect(abs((relative.number ?? 0) - 1.25) < 1 / countsPerMillimetre)
            let position = try await host.read("position", timeout: .seconds(2))
            #expect(abs((position.number ?? 0) - 1.25) < 1 / countsPerMillimetre)
            let movingNow = try await host.read("moving", timeout: .seconds(2))
            #expect(movingNow == false)

            let status = try await host.read("status", timeout: .seconds(2))
            guard case .object(let fields) = status else {
                Issue.record("status is not an object: \(status)")
                return
            }
            #expect(fields["homed"] == true)
            #expect(fields["moving"] == false)
            #expect(fields["channelEnabled"] == true)
            #expect(fields["unit"] == "mm")
            #expect(device.withModel { $0.received.contains(0x0453) && $0.received.contains(0x0448) && $0.received.contains(0x0443) })
        }
        #expect(events.values(of: "homed").contains(true))
        #expect(events.values(of: "moving").contains(true), "a move publishes that the stage is moving")
    }

    @Test func aMoveTakesTimeAndPublishesIntermediatePositions() async throws {
        let events = CollectedEvents()
        try await APTTestbed.withStage({ $0.maxVelocity = 5; $0.acceleration = 20 }, events: events) { host, device in
            let started = ContinuousClock.now
            let reached = try await host.invoke("moveAbsolute", arguments: ["position": 4], timeout: .seconds(10))
            let elapsed = ContinuousClock.now - started
            // Trapezoid: 0.25 s ramp up, 0.55 s cruise, 0.25 s ramp down = 1.05 s.
            #expect(elapsed >= .milliseconds(950), "a 4 mm move at 5 mm/s, 20 mm/s² takes about 1.05 s, not \(elapsed)")
            #expect(abs((reached.number ?? 0) - 4) < 1 / countsPerMillimetre)
            #expect(device.withModel { $0.motion == nil })
        }
        let positions = events.values(of: "position").compactMap(\.number)
        let between = positions.filter { $0 > 0.05 && $0 < 3.95 }
        // Polls come every few tens of ms; on a loaded host fewer land inside the 1 s move.
        #expect(between.count >= 2, "status polls during the move publish intermediate positions: \(positions)")
        #expect(between == between.sorted(), "positions rise monotonically during a forward move: \(between)")
    }

    @Test func argumentsAreCheckedBeforeTheDevice() async throws {
        try await APTTestbed.withStage { host, device in
            let before = device.requestCount
            let wrongType = await #expect(throws: LabvisorError.self) {
                try await host.invoke("moveAbsolute", arguments: ["position": "far"], timeout: .seconds(2))
            }
            #expect(wrongType?.code == .invalidArgument)
            #expect(wrongType?.fields["argument"] == "position")
            let outOfRange = await #expect(throws: LabvisorError.self) {
                try await host.invoke("moveAbsolute", arguments: ["position": 1e9], timeout: .seconds(2))
            }
            #expect(outOfRange?.code == .invalidArgument)
            #expect(outOfRange?.fields["argument"] == "position")
            let missing = await #expect(throws: LabvisorError.self) {
                try await host.invoke("moveRelative", arguments: [:], timeout: .seconds(2))
            }
            #expect(missing?.code == .invalidArgument)
            #expect(missing?.fields["argument"] == "distance")
            #expect(device.requestCount == before, "rejected calls never reach the controller")

            let beyondTravel = await #expect(throws: LabvisorError.self) {
                try await host.invoke("moveAbsolute", arguments: ["position": 26], timeout: .seconds(2))
            }
            #expect(beyondTravel?.code == .invalidArgument)
            #expect(beyondTravel?.fields["argument"] == "position")
            let relativeBeyond = await #expect(throws: LabvisorError.self) {
                try await host.invoke("moveRelative", arguments: ["distance": -3], timeout: .seconds(2))
            }
            #expect(relativeBeyond?.code == .invalidArgument)
            #expect(relativeBeyond?.fields["argument"] == "distance")
            #expect(device.withModel { !$0.received.contains(0x0453) && !$0.received.contains(0x0448) })
        }
    }

    @Test func immediateStopInterruptsALongMove() async throws {
        let events = CollectedEvents()
        try await APTTestbed.withStage({ $0.maxVelocity = 1; $0.acceleration = 10 }, events: events) { host, device in
            let move = Task { try await host.invoke("moveAbsolute", arguments: ["position": 20], timeout: .seconds(30)) }
            try await events.waitFor("position") { ($0.number ?? 0) > 0.1 }
            #expect(device.withModel { $0.motion != nil })
            let started = ContinuousClock.now
            _ = try await host.invoke("stop", arguments: [:], timeout: .seconds(2))
            #expect(ContinuousClock.now - started < .seconds(1))
            let error = await #expect(throws: LabvisorError.self) { try await move.value }
            #expect(error?.code == .unavailable)
            #expect(device.withModel { $0.motion == nil && $0.stops == [1] })
            let stoppedAt = try await host.read("position", timeout: .seconds(2))
            #expect((stoppedAt.number ?? 0) > 0.1 && (stoppedAt.number ?? 99) < 19, "stopped on the way: \(stoppedAt)")
            // The stage answers normally afterwards, and the next move runs to its end.
            let reached = try await host.invoke("moveRelative", arguments: ["distance": 0.2], timeout: .seconds(5))
            #expect(abs((reached.number ?? 0) - ((stoppedAt.number ?? 0) + 0.2)) < 2 / countsPerMillimetre)
        }
    }

    @Test func aCompletionArrivingDuringAStatusPollEndsTheMove() async throws {
        try await APTTestbed.withStage { host, device in
            // The controller holds its (empty) answer to the move command for 250 ms; the
            // move ends meanwhile, so MOVE_COMPLETED goes out just before the reply to the
            // driver's first status poll, while that poll waits for its reply.
            device.inject(.stall(.milliseconds(1)))  // the status read before the move
            device.inject(.stall(.milliseconds(250)))  // the move command
            let started = ContinuousClock.now
            let reached = try await host.invoke("moveAbsolute", arguments: ["position": 0.05], timeout: .seconds(10))
            #expect(abs((reached.number ?? 0) - 0.05) < 1 / countsPerMillimetre)
            // A lost completion would leave the call waiting until its 10 s deadline.
            #expect(ContinuousClock.now - started < .seconds(5), "the completion was not lost")
        }
    }

    @Test func shutdownStopsAMoveInProgress() async throws {
        let device = try SimulatedSerialDevice(model: { var model = KDC101Device(); model.maxVelocity = 1; return model }())
        device.start()
        defer { device.stop() }
        let events = CollectedEvents()
        let host = try await DriverHost<ThorlabsAPTDriver>.open(
            instrument: "stage-x", node: device.path, transport: try APTTestbed.manifest().transport, events: events)
        _ = try host.invokeOneway("moveAbsolute", arguments: ["position": 20], timeout: .seconds(30))
        try await events.waitFor("moving") { $0 == true }
        #expect(device.withModel { $0.motion != nil })
        try await host.shutdown(timeout: .seconds(2))
        #expect(device.withModel { $0.motion == nil && $0.stops == [1] }, "shutdown leaves the stage stopped")
        let error = await #expect(throws: LabvisorError.self) { try await host.read("position", timeout: .seconds(1)) }
        #expect(error?.code == .closed)
    }

    @Test func errorReportsBecomeDriverFaults() async throws {
        try await APTTestbed.withStage({ APTTestbed.fast(&$0); $0.travel = 0...10 }) { host, device in
            device.inject(.replaceReply(APTTestbed.richResponse(about: 0x0411, code: 42, "encoder fault")))
            let injected = await #expect(throws: LabvisorError.self) { try await host.read("position", timeout: .seconds(2)) }
            #expect(injected?.code == .driverFault)
            #expect(injected?.fields["deviceError"] == "42")
            #expect(injected?.fields["notes"] == "encoder fault")
            // The simulator's own refusal: a target beyond its (shorter) actuator's travel.
            let refused = await #expect(throws: LabvisorError.self) {
                try await host.invoke("moveAbsolute", arguments: ["position": 15], timeout: .seconds(5))
            }
            #expect(refused?.code == .driverFault)
            #expect(refused?.fields["messageID"] == .int(0x0453))
            let movingNow = try await host.read("moving", timeout: .seconds(2))
            #expect(movingNow == false)
            let reached = try await host.invoke("moveAbsolute", arguments: ["position": 5], timeout: .seconds(5))
            #expect(abs((reached.number ?? 0) - 5) < 1 / countsPerMillimetre)
        }
    }

    @Test func silentControllerTimesOutAndTheNextCallWorks() async throws {
        try await APTTestbed.withStage { host, device in
            device.inject(.noReply(count: 1))
            let error = await #expect(throws: LabvisorError.self) { try await host.read("position", timeout: .seconds(2)) }
            #expect(error?.code == .timeout)
            let homedNow = try await host.read("homed", timeout: .seconds(2))
            #expect(homedNow == false)
        }
    }

    @Test func garbageIsAnErrorThenResyncs() async throws {
        try await APTTestbed.withStage { host, device in
            device.inject(.replaceReply([0xFF, 0xFE, 0x00, 0x41, 0x0D, 0x0A, 0x99]))
            let error = await #expect(throws: LabvisorError.self) { try await host.read("position", timeout: .seconds(2)) }
            #expect(error?.code == .driverFault)
            let movingNow = try await host.read("moving", timeout: .seconds(2))
            #expect(movingNow == false)
        }
    }

    @Test func aTruncatedReplyTimesOutThenResyncs() async throws {
        try await APTTestbed.withStage { host, device in
            device.inject(.truncateReply(9))
            let error = await #expect(throws: LabvisorError.self) { try await host.read("status", timeout: .seconds(2)) }
            #expect(error?.code == .timeout)
            let positionNow = try await host.read("position", timeout: .seconds(2))
            #expect(positionNow == .double(0))
        }
    }

    @Test func unplugMidCallGivesDeviceGoneFast() async throws {
        try await APTTestbed.withStage { host, device in
            let (thrown, after) = try await DriverTestbed.unplugDuringCall(device) {
                try await host.read("position", timeout: .seconds(5))
            }
            let error = thrown as? LabvisorError
            #expect(error?.code == .deviceGone, "\(String(describing: thrown))")
            // At once, not after the 1 s reply timeout or the 5 s deadline (the margin is for loaded hosts).
            #expect(after < .seconds(1))
        }
    }

    @Test func unsolicitedStatusUpdatesAreConsumedNotTakenAsReplies() async throws {
        let events = CollectedEvents()
        try await APTTestbed.withStage({ APTTestbed.fast(&$0); $0.updatePeriod = .milliseconds(20) }, events: events) { host, device in
            #expect(device.withModel { $0.received.first == 0x0012 }, "the driver switches update messages off at open")
            _ = try await host.invoke("moveAbsolute", arguments: ["position": 3], timeout: .seconds(5))
            let before = events.values(of: "position").count
            device.withModel { $0.updatesEnabled = true }
            // A request makes the simulator look at its schedule again (as HW_START_UPDATEMSGS
            // would); then give it time to send about ten updates (every 20 ms here).
            _ = try await host.read("position", timeout: .seconds(2))
            try await Task.sleep(for: .milliseconds(200))
            // Position replies (0x0412) are paired with their requests although status
            // updates (0x0491) keep arriving in between.
            for _ in 0..<5 {
                let position = try await host.read("position", timeout: .seconds(2))
                #expect(abs((position.number ?? 0) - 3) < 1 / countsPerMillimetre)
            }
            // Position reads publish nothing themselves: these events are the consumed updates.
            #expect(events.values(of: "position").count - before >= 2)
            let reached = try await host.invoke("moveRelative", arguments: ["distance": 1], timeout: .seconds(5))
            #expect(abs((reached.number ?? 0) - 4) < 1 / countsPerMillimetre)
            let movingNow = try await host.read("moving", timeout: .seconds(2))
            #expect(movingNow == false)
            #expect(device.withModel { !$0.received.contains(0x0492) }, "updates are left to lapse, never acknowledged")
        }
    }

    @Test func aRotationStageWorksInDegrees() async throws {
        try await APTTestbed.withStage({ device in
            device.maxVelocity = 400  // deg/s here
            device.acceleration = 4000
            device.notes = "PRM1-Z8 rotation mount"
            device.countsPerMillimetre = 1919.6418578623391  // per degree
            device.travel = -100_000...100_000
        }) { host, device in
            #expect(host.identification.details["unit"] == "deg")
            let unitNow = try await host.read("unit", timeout: .seconds(2))
            #expect(unitNow == "deg")
            let reached = try await host.invoke("moveAbsolute", arguments: ["position": 90], timeout: .seconds(5))
            #expect(abs((reached.number ?? 0) - 90) < 0.001)
            #expect(device.withModel { abs($0.position - 172_768) } <= 1)
        }
    }

    @Test func anUnknownModelIsRefusedAtOpen() async throws {
        var model = KDC101Device()
        model.model = "XYZ999"
        model.notes = ""
        let device = try SimulatedSerialDevice(model: model)
        device.start()
        defer { device.stop() }
        let error = await #expect(throws: LabvisorError.self) {
            _ = try await DriverHost<ThorlabsAPTDriver>.open(
                instrument: "stage-x", node: device.path, transport: try APTTestbed.manifest().transport)
        }
        #expect(error?.code == .driverFault)
        #expect(error?.fields["model"] == "XYZ999")
    }
}
