import LabvisorSimulation
import Testing
import ThorlabsAPTSimulator

/// The simulator's own behaviour over time, without a PTY.
@Suite struct KDC101DeviceTests {
    let start = ContinuousClock.now

    @Test func aTrapezoidalMoveInterpolates() {
        // 10 units at 5 units/s, 10 units/s²: 0.5 s ramps, 1.5 s cruise.
        let move = TrapezoidalMove(from: 0, to: 10, at: start, maxVelocity: 5, acceleration: 10)
        #expect(abs(move.duration.seconds - 2.5) < 1e-9)
        #expect(abs(move.position(at: start + .milliseconds(500)) - 1.25) < 1e-9)
        #expect(abs(move.position(at: start + .milliseconds(1250)) - 5) < 1e-9)
        #expect(abs(move.speed(at: start + .seconds(1)) - 5) < 1e-9)
        #expect(move.position(at: start + .seconds(3)) == 10)
        // Too short to reach full speed: a triangle.
        let short = TrapezoidalMove(from: 4, to: 3, at: start, maxVelocity: 5, acceleration: 10)
        #expect(abs(short.duration.seconds - 2 * (0.1).squareRoot()) < 1e-9)
        #expect(short.direction == -1)
        #expect(abs(short.position(at: start + short.duration / 2) - 3.5) < 1e-9)
    }

    @Test func updateMessagesLapseWithoutAcknowledgement() {
        var device = KDC101Device()
        device.updatesWithoutAck = 3
        _ = device.respond(to: [0x11, 0x00, 0x00, 0x00, 0x50, 0x01], at: start)
        var updates = 0
        var now = start
        for _ in 0..<10 {
            let bytes = device.unsolicited(at: now)
            if !bytes.isEmpty {
                #expect(bytes[0] == 0x91 && bytes[1] == 0x04)
                updates += 1
            }
            now = now + .milliseconds(100)
        }
        #expect(updates == 3)
        #expect(!device.updatesEnabled)
        #expect(device.nextWakeup(after: now) == nil)
    }

    @Test func anAcknowledgementKeepsUpdatesGoing() {
        var device = KDC101Device()
        device.updatesWithoutAck = 3
        _ = device.respond(to: [0x11, 0x00, 0x00, 0x00, 0x50, 0x01], at: start)
        var now = start
        for _ in 0..<10 {
            _ = device.unsolicited(at: now)
            _ = device.respond(to: [0x92, 0x04, 0x00, 0x00, 0x50, 0x01], at: now)
            now = now + .milliseconds(100)
        }
        #expect(device.updatesEnabled)
    }

    @Test func aMoveCompletesWithMoveCompletedAndAWrongChannelIsRefused() {
        var device = KDC101Device()
        // MOT_MOVE_RELATIVE, channel 1, +3455 counts (0.1 mm).
        let move: [UInt8] = [0x48, 0x04, 0x06, 0x00, 0xD0, 0x01, 0x01, 0x00, 0x7F, 0x0D, 0x00, 0x00]
        #expect(device.respond(to: move, at: start).isEmpty)
        #expect(device.statusBits(at: start + .milliseconds(10)) & 0x10 != 0, "moving forward")
        let end = device.nextWakeup(after: start)!
        let done = device.unsolicited(at: end)
        #expect(Array(done.prefix(2)) == [0x64, 0x04])
        #expect(device.position == 3455)
        // Channel 2 on a single-channel controller: HW_RICHRESPONSE about 0x0411.
        let refusal = device.respond(to: [0x11, 0x04, 0x02, 0x00, 0x50, 0x01], at: end)
        #expect(Array(refusal.prefix(2)) == [0x81, 0x00])
        #expect(Array(refusal[6..<8]) == [0x11, 0x04])
    }
}
