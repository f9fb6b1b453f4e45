import Foundation
import LabvisorSimulation

/// A Thorlabs KDC101 K-Cube DC servo controller driving a Z825B actuator, written from the
/// Thorlabs "APT Communications Protocol" independently of the driver (see README.md).
///
/// Single channel (1), address 0x50 (generic USB unit); replies go to the host (0x01).
/// Moves follow a trapezoidal profile in time; homing drives to 0 at the homing velocity;
/// MOT_MOVE_COMPLETED / MOT_MOVE_HOMED are sent when the motion ends; status updates go
/// out every 100 ms while update messages are on, and stop after 50 updates without a
/// MOT_ACK_DCSTATUSUPDATE (the APT "server alive" rule).
public struct KDC101Device: SerialDeviceModel {
    /// HW_GET_INFO serial number (KDC101 serials start with 27).
    public var serialNumber: UInt32 = 27_000_123
    /// HW_GET_INFO model number (8 characters at most).
    public var model = "KDC101"
    /// HW_GET_INFO notes text (48 characters at most).
    public var notes = "KCube DC Servo"
    /// HW_GET_INFO firmware version.
    public var firmware: (major: UInt8, interim: UInt8, minor: UInt8) = (3, 0, 10)
    /// HW_GET_INFO hardware type code.
    public var hardwareType: UInt16 = 16
    /// HW_GET_INFO hardware version.
    public var hardwareVersion: UInt16 = 1

    /// Encoder counts per millimetre of the actuator (Z825B: 512 counts/turn × 67.49:1, 1 mm pitch).
    public var countsPerMillimetre = 512 * 67.49
    /// The actuator's travel, mm.
    public var travel: ClosedRange<Double> = 0...25
    /// Maximum velocity, mm/s (MOT_SET_VELPARAMS changes it).
    public var maxVelocity = 2.3
    /// Acceleration, mm/s² (MOT_SET_VELPARAMS changes it).
    public var acceleration = 1.5
    /// Homing velocity, mm/s.
    public var homeVelocity = 1.0
    /// Update messages period (APT: every 100 ms).
    public var updatePeriod = Duration.milliseconds(100)
    /// Update messages sent without an acknowledgement before the controller stops them.
    public var updatesWithoutAck = 50

    /// The position counter, counts (between moves).
    public private(set) var position: Double = 0
    /// Homed since power-up.
    public private(set) var homed = false
    /// The channel is enabled (MOD_SET_CHANENABLESTATE).
    public private(set) var channelEnabled = true
    /// Update messages are on (HW_START_UPDATEMSGS).
    public var updatesEnabled = false
    /// The motion in progress, if any.
    public private(set) var motion: Motion?
    /// Every message id received, in order (tests check what a host sent).
    public private(set) var received: [UInt16] = []
    /// Stops received, with their stop mode.
    public private(set) var stops: [UInt8] = []

    /// What is moving the stage.
    public struct Motion: Sendable, Hashable {
        /// The profile.
        public var move: TrapezoidalMove
        /// Homing (MOVE_HOMED at the end) or a move (MOVE_COMPLETED).
        public var homing: Bool
    }

    private var lastUpdate: ContinuousClock.Instant?
    private var unacknowledgedUpdates = 0
    private var outbox: [UInt8] = []
    private var storedRelativeDistance: Int32 = 0
    private var storedAbsolutePosition: Int32 = 0
    private var minimumVelocityUnits: Int32 = 0
    private var backlash: Int32 = 0
    private var jog: [UInt8] = []
    private var home: (direction: UInt16, limitSwitch: UInt16, offset: Int32) = (2, 1, 0)
    private var ledModes: UInt16 = 0x000B

    /// A powered-up controller: at 0, not homed, updates off.
    public init() {}

    public func makeDecoder() -> LengthFieldFrameDecoder { .thorlabsAPT() }

    // MARK: - Units (APT protocol: T = 2048 / 6 MHz, VEL = counts/s × T × 65536, ACC = counts/s² × T² × 65536)

    private static let sampleInterval = 2048.0 / 6_000_000
    private var countsPerSecond: Double { maxVelocity * countsPerMillimetre }
    private var countsPerSecondSquared: Double { acceleration * countsPerMillimetre }
    private var velocityUnits: Int32 { Int32((countsPerSecond * Self.sampleInterval * 65536).rounded()) }
    private var accelerationUnits: Int32 {
        Int32((countsPerSecondSquared * Self.sampleInterval * Self.sampleInterval * 65536).rounded())
    }

    // MARK: - State over time

    /// The position at `now`, counts.
    public func position(at now: ContinuousClock.Instant) -> Double {
        motion?.move.position(at: now) ?? position
    }

    /// The status bits at `now` (APT MOT_GET_DCSTATUSUPDATE bits).
    public func statusBits(at now: ContinuousClock.Instant) -> UInt32 {
        var bits: UInt32 = 0x100  // motor connected
        if channelEnabled { bits |= 0x8000_0000 }
        if homed { bits |= 0x400 }
        if let motion {
            if motion.homing { bits |= 0x200 }
            bits |= motion.move.direction > 0 ? 0x10 : 0x20
        }
        let millimetres = position(at: now) / countsPerMillimetre
        if millimetres >= travel.upperBound { bits |= 0x01 }
        if millimetres <= travel.lowerBound && homed { bits |= 0x02 }
        return bits
    }

    /// Ends a motion that is over by `now`, queueing its completion message.
    private mutating func advance(to now: ContinuousClock.Instant) {
        guard let motion, now >= motion.move.endTime else { return }
        position = motion.move.target
        self.motion = nil
        if motion.homing {
            homed = true
            outbox += header(0x0444, param1: 1)
        } else {
            outbox += message(0x0464, data: statusData(at: now))
        }
    }

    private mutating func start(to target: Double, homing: Bool, at now: ContinuousClock.Instant) {
        let from = position(at: now)
        let velocity = homing ? homeVelocity * countsPerMillimetre : countsPerSecond
        motion = Motion(
            move: TrapezoidalMove(from: from, to: target, at: now, maxVelocity: velocity, acceleration: countsPerSecondSquared),
            homing: homing)
        position = from
    }

    // MARK: - SerialDeviceModel

    public mutating func respond(to request: [UInt8], at now: ContinuousClock.Instant) -> [UInt8] {
        advance(to: now)
        guard request.count >= 6 else { return [] }
        let id = UInt16(request[0]) | UInt16(request[1]) << 8
        received.append(id)
        let hasData = request[4] & 0x80 != 0
        let data = hasData ? Array(request[6...]) : []
        let channel = hasData ? (data.count >= 2 ? UInt16(data[0]) | UInt16(data[1]) << 8 : 0) : UInt16(request[2])
        func int32(_ offset: Int) -> Int32? {
            guard data.count >= offset + 4 else { return nil }
            return Int32(bitPattern: data[offset..<(offset + 4)].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        }
        let channelMessages: Set<UInt16> = [
            0x0210, 0x0211, 0x0410, 0x0411, 0x040A, 0x0413, 0x0414, 0x043A, 0x043B, 0x0416, 0x0417, 0x0440, 0x0441,
            0x0443, 0x0445, 0x0446, 0x0448, 0x0450, 0x0451, 0x0453, 0x0465, 0x0480, 0x0490, 0x0429, 0x04A1, 0x04B4,
        ]
        if channelMessages.contains(id) && channel != 1 {
            return richResponse(about: id, code: 1, "invalid channel \(channel): this controller has channel 1 only")
        }
        var reply: [UInt8] = []
        switch id {
        case 0x0005: reply = message(0x0006, data: info())
        case 0x0011:
            updatesEnabled = true
            unacknowledgedUpdates = 0
        case 0x0012: updatesEnabled = false
        case 0x0492: unacknowledgedUpdates = 0
        case 0x0002, 0x0018, 0x0223: break  // disconnect, no flash programming, identify (LED flash)
        case 0x0210: channelEnabled = request[3] == 1
        case 0x0211: reply = header(0x0212, param1: 1, param2: channelEnabled ? 1 : 2)
        case 0x0410:
            if let value = int32(2), motion == nil { position = Double(value) }
        case 0x0411: reply = message(0x0412, data: word(1) + long(Int32(position(at: now).rounded())))
        case 0x040A: reply = message(0x040B, data: word(1) + long(Int32(position(at: now).rounded())))
        case 0x0413:
            if let minimum = int32(2), let accelerationUnits = int32(6), let velocityUnits = int32(10),
                velocityUnits > 0, accelerationUnits > 0
            {
                minimumVelocityUnits = minimum
                acceleration = Double(accelerationUnits) / (Self.sampleInterval * Self.sampleInterval * 65536) / countsPerMillimetre
                maxVelocity = Double(velocityUnits) / (Self.sampleInterval * 65536) / countsPerMillimetre
            }
        case 0x0414: reply = message(0x0415, data: word(1) + long(minimumVelocityUnits) + long(accelerationUnits) + long(velocityUnits))
        case 0x043A: backlash = int32(2) ?? backlash
        case 0x043B: reply = message(0x043C, data: word(1) + long(backlash))
        case 0x0416: if data.count == 22 { jog = data }
        case 0x0417:
            reply = message(
                0x0418,
                data: jog.count == 22
                    ? jog : word(1) + word(2) + long(Int32(countsPerMillimetre / 10)) + long(0) + long(accelerationUnits)
                        + long(velocityUnits) + word(2))
        case 0x0440:
            if data.count >= 14 {
                home = (UInt16(data[2]) | UInt16(data[3]) << 8, UInt16(data[4]) | UInt16(data[5]) << 8, int32(10) ?? 0)
                if let velocity = int32(6), velocity > 0 {
                    homeVelocity = Double(velocity) / (Self.sampleInterval * 65536) / countsPerMillimetre
                }
            }
        case 0x0441:
            let velocity = Int32((homeVelocity * countsPerMillimetre * Self.sampleInterval * 65536).rounded())
            reply = message(0x0442, data: word(1) + word(home.direction) + word(home.limitSwitch) + long(velocity) + long(home.offset))
        case 0x0445: storedRelativeDistance = int32(2) ?? storedRelativeDistance
        case 0x0446: reply = message(0x0447, data: word(1) + long(storedRelativeDistance))
        case 0x0450: storedAbsolutePosition = int32(2) ?? storedAbsolutePosition
        case 0x0451: reply = message(0x0452, data: word(1) + long(storedAbsolutePosition))
        case 0x0443:
            guard channelEnabled else { return richResponse(about: id, code: 2, "channel 1 is disabled") }
            start(to: 0, homing: true, at: now)
        case 0x0448, 0x0453:
            guard channelEnabled else { return richResponse(about: id, code: 2, "channel 1 is disabled") }
            let current = position(at: now)
            let target: Double
            if id == 0x0453 {
                target = Double(hasData ? (int32(2) ?? 0) : storedAbsolutePosition)
            } else {
                target = current + Double(hasData ? (int32(2) ?? 0) : storedRelativeDistance)
            }
            let millimetres = target / countsPerMillimetre
            guard travel.contains(millimetres) else {
                return richResponse(
                    about: id, code: 3,
                    String(format: "position %.4f mm is outside the travel %.1f...%.1f mm", millimetres, travel.lowerBound, travel.upperBound))
            }
            start(to: target, homing: false, at: now)
        case 0x0465:
            stops.append(request[3])
            // Both stop modes halt at once here (a profiled stop's deceleration is not modelled).
            position = position(at: now).rounded()
            motion = nil
            reply = message(0x0466, data: statusData(at: now))
        case 0x0480:
            let counts = long(Int32(position(at: now).rounded()))
            reply = message(0x0481, data: word(1) + counts + counts + dword(statusBits(at: now)))
        case 0x0490: reply = message(0x0491, data: statusData(at: now))
        case 0x0429: reply = message(0x042A, data: word(1) + dword(statusBits(at: now)))
        case 0x04A1: reply = message(0x04A2, data: word(1) + long(435) + long(195) + long(993) + long(195) + word(15))
        case 0x04B3: ledModes = data.count >= 4 ? UInt16(data[2]) | UInt16(data[3]) << 8 : ledModes
        case 0x04B4: reply = message(0x04B5, data: word(1) + word(ledModes))
        default: break  // unknown messages are ignored, as the controllers do
        }
        return reply
    }

    public mutating func unsolicited(at now: ContinuousClock.Instant) -> [UInt8] {
        advance(to: now)
        if updatesEnabled, lastUpdate.map({ now - $0 >= updatePeriod }) ?? true {
            lastUpdate = now
            outbox += message(0x0491, data: statusData(at: now))
            unacknowledgedUpdates += 1
            if unacknowledgedUpdates >= updatesWithoutAck { updatesEnabled = false }
        }
        defer { outbox = [] }
        return outbox
    }

    public func nextWakeup(after now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        let update = updatesEnabled ? (lastUpdate.map { $0 + updatePeriod } ?? now) : nil
        let end = motion?.move.endTime
        return [update, end].compactMap { $0 }.min()
    }

    // MARK: - Encoding

    private func info() -> [UInt8] {
        var data = dword(serialNumber)
        data += padded(model, 8)
        data += word(hardwareType)
        data += [firmware.minor, firmware.interim, firmware.major, 0]
        data += padded(notes, 48)
        data += [UInt8](repeating: 0, count: 12)
        data += word(hardwareVersion) + word(0) + word(1)
        return data
    }

    private func statusData(at now: ContinuousClock.Instant) -> [UInt8] {
        let speed = motion.map { $0.move.speed(at: now) * $0.move.direction } ?? 0
        let velocity = Int16(clamping: Int((speed * Self.sampleInterval).rounded()))
        return word(1) + long(Int32(position(at: now).rounded())) + word(UInt16(bitPattern: velocity)) + word(0)
            + dword(statusBits(at: now))
    }

    private func richResponse(about id: UInt16, code: UInt16, _ text: String) -> [UInt8] {
        message(0x0081, data: word(id) + word(code) + padded(text, 64))
    }

    private func header(_ id: UInt16, param1: UInt8 = 0, param2: UInt8 = 0) -> [UInt8] {
        word(id) + [param1, param2, 0x01, 0x50]
    }

    private func message(_ id: UInt16, data: [UInt8]) -> [UInt8] {
        word(id) + word(UInt16(data.count)) + [0x81, 0x50] + data
    }

    private func word(_ value: UInt16) -> [UInt8] { [UInt8(value & 0xFF), UInt8(value >> 8)] }
    private func dword(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8((value >> (8 * UInt32($0))) & 0xFF) } }
    private func long(_ value: Int32) -> [UInt8] { dword(UInt32(bitPattern: value)) }
    private func padded(_ text: String, _ size: Int) -> [UInt8] {
        let bytes = Array(text.utf8.prefix(size))
        return bytes + [UInt8](repeating: 0, count: size - bytes.count)
    }
}
