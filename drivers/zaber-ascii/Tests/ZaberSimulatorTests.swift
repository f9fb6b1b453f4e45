import Foundation
import LabvisorSimulation
import Testing
import ZaberASCIISimulator

/// The simulated controller on its own, at chosen instants: motion profile, addressing,
/// checksums, rejections.
@Suite("ZaberSimulatorTests")
struct ZaberSimulatorTests {
    /// 100000 microsteps/s (`maxspeed` 163840), 1.25e7 microsteps/s² (`accel` 2048), homed.
    static func controller() -> ZaberSimulatedController {
        var model = ZaberSimulatedController(deviceNumber: 1, axisCount: 2)
        for index in model.axes.indices {
            model.axes[index] = ZaberSimulatedAxis(position: 0)
            model.axes[index].maxSpeed = 163_840
            model.axes[index].acceleration = 2_048
            model.axes[index].homed = true
        }
        return model
    }

    static func ask(_ model: inout ZaberSimulatedController, _ line: String, at instant: ContinuousClock.Instant) -> String {
        String(decoding: model.respond(to: line, at: instant), as: UTF8.self)
    }

    @Test func aMoveFollowsATrapezoidalProfile() {
        var model = Self.controller()
        let start = ContinuousClock.now
        #expect(Self.ask(&model, "/1 1 00 move abs 100000", at: start) == "@01 1 00 OK BUSY -- 0\r\n")
        // Ramps of 8 ms over 400 microsteps each, 0.992 s at full speed: 1.008 s in all.
        let ramp = Self.ask(&model, "/1 1 01 get pos", at: start + .milliseconds(4))
        #expect(ramp == "@01 1 01 OK BUSY -- 100\r\n", "½·a·t² after 4 ms")
        let middle = Self.ask(&model, "/1 1 02 get pos", at: start + .milliseconds(504))
        #expect(middle == "@01 1 02 OK BUSY -- 50000\r\n")
        #expect(Self.ask(&model, "/1 1 03 get pos", at: start + .milliseconds(1_004)).hasPrefix("@01 1 03 OK BUSY"))
        #expect(Self.ask(&model, "/1 1 04 get pos", at: start + .milliseconds(1_010)) == "@01 1 04 OK IDLE -- 100000\r\n")
        #expect(Self.ask(&model, "/1 0 05 get pos", at: start + .milliseconds(1_010)) == "@01 0 05 OK IDLE -- 100000 0\r\n")
    }

    @Test func stopDeceleratesAndRaisesNI() {
        var model = Self.controller()
        let start = ContinuousClock.now
        _ = Self.ask(&model, "/1 1 move abs 100000", at: start)
        #expect(Self.ask(&model, "/1 1 stop", at: start + .milliseconds(504)) == "@01 1 OK BUSY NI 0\r\n")
        // From 100000 microsteps/s at 1.25e7 microsteps/s²: 8 ms and 400 microsteps more.
        #expect(Self.ask(&model, "/1 1 get pos", at: start + .milliseconds(510)).hasPrefix("@01 1 OK BUSY NI"))
        #expect(Self.ask(&model, "/1 1 get pos", at: start + .milliseconds(700)) == "@01 1 OK IDLE NI 50400\r\n")
        #expect(Self.ask(&model, "/1 1 warnings clear", at: start + .milliseconds(700)) == "@01 1 OK IDLE -- 01 NI\r\n", "the flags as they were; the status after clearing")
        #expect(Self.ask(&model, "/1 1 warnings", at: start + .milliseconds(700)) == "@01 1 OK IDLE -- 00\r\n")
    }

    @Test func addressingBroadcastsAndChecksums() {
        var model = Self.controller()
        let now = ContinuousClock.now
        #expect(Self.ask(&model, "/2 1 get pos", at: now) == "", "another device's command gets no reply")
        #expect(Self.ask(&model, "/get deviceid", at: now) == "@01 0 OK IDLE -- 30342\r\n", "a broadcast is answered")
        #expect(Self.ask(&model, "/0 0 07 get system.axiscount:C8", at: now) == "@01 0 07 OK IDLE -- 2\r\n")
        #expect(Self.ask(&model, "/0 0 07 get system.axiscount:C9", at: now) == "", "a wrong checksum is ignored")
        #expect(model.badChecksums == 1)
        #expect(Self.ask(&model, "not a command", at: now) == "")
    }

    @Test func badInputIsRejectedWithTheReason() {
        var model = Self.controller()
        let now = ContinuousClock.now
        #expect(Self.ask(&model, "/1 1 fly", at: now) == "@01 1 RJ IDLE -- BADCOMMAND\r\n")
        #expect(Self.ask(&model, "/1 1 move abs ten", at: now) == "@01 1 RJ IDLE -- BADDATA\r\n")
        #expect(Self.ask(&model, "/1 1 move abs 99999999", at: now) == "@01 1 RJ IDLE -- BADDATA\r\n")
        #expect(Self.ask(&model, "/1 3 get pos", at: now) == "@01 3 RJ IDLE -- BADAXIS\r\n")
        #expect(Self.ask(&model, "/1 0 move abs 10", at: now) == "@01 0 RJ IDLE -- BADAXIS\r\n")
        #expect(Self.ask(&model, "/1 1 get deviceid", at: now) == "@01 1 RJ IDLE -- DEVICEONLY\r\n")
        #expect(Self.ask(&model, "/1 1 set maxspeed 0", at: now) == "@01 1 RJ IDLE -- BADDATA\r\n")
    }

    @Test func unhomedAxesCarryWRUntilHomedAndAlertsFollowMoves() {
        var model = ZaberSimulatedController(deviceNumber: 1, axisCount: 1)
        model.axes[0].maxSpeed = 1_638_400
        let start = ContinuousClock.now
        #expect(Self.ask(&model, "/1 1 get pos", at: start) == "@01 1 OK IDLE WR 304800\r\n")
        #expect(Self.ask(&model, "/1 set comm.alert 1", at: start) == "@01 0 OK IDLE WR 0\r\n")
        _ = Self.ask(&model, "/1 home", at: start)
        let finish = model.nextWakeup(after: start)
        #expect(finish != nil)
        let alert = String(decoding: model.unsolicited(at: finish! + .milliseconds(1)), as: UTF8.self)
        #expect(alert == "!01 1 IDLE --\r\n")
        #expect(Self.ask(&model, "/1 1 get pos", at: finish! + .milliseconds(2)) == "@01 1 OK IDLE -- 0\r\n")
    }
}
