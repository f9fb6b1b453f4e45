import Foundation
import LabvisorSimulation

/// The device side of a Zaber multi-axis controller speaking the Zaber ASCII protocol
/// (README.md lists the sources and the subset): commands `/device axis id command:checksum`,
/// replies `@01 1 05 OK BUSY -- 0`, rejections `RJ` with a reason, warning flags, alerts.
///
/// Motion takes time: a move follows a trapezoidal profile from `maxspeed` and `accel`, the
/// axis is `BUSY` until it ends, and `get pos` meanwhile reports the interpolated position.
/// `stop` decelerates at `accel`. Until an axis is homed its replies carry `WR`.
/// Written from the vendor documentation, independently of the driver.
public struct ZaberSimulatedController: SerialDeviceModel {
    /// The device number it answers to (`comm.address`); broadcasts (`/` or `/0`) too.
    public var deviceNumber: Int
    /// `get deviceid`.
    public var deviceID = 30_342
    /// `get system.serial`.
    public var serialNumber = 56_789
    /// `get version`.
    public var firmwareVersion = "7.38"
    /// `get peripheralid` of every axis (0: an integrated device).
    public var peripheralID = 0
    /// The axes, axis 1 first.
    public var axes: [ZaberSimulatedAxis]
    /// `comm.alert`: when on, an axis that comes to rest sends `!01 1 IDLE --`.
    public var alertsEnabled = false
    /// Commands ignored because their checksum was wrong.
    public private(set) var badChecksums = 0
    /// Every command line received, for tests.
    public private(set) var received: [String] = []

    private var alerts: [String] = []

    /// A controller numbered `deviceNumber` with `axisCount` axes, none homed.
    public init(deviceNumber: Int = 1, axisCount: Int = 2) {
        self.deviceNumber = deviceNumber
        axes = (0..<max(axisCount, 1)).map { ZaberSimulatedAxis(position: 304_800 + 10_000 * $0) }
    }

    /// Makes the next move of `axis` (1-based) stall after `microsteps` and raise `FS`.
    public mutating func stallNextMove(axis: Int, after microsteps: Int) {
        axes[axis - 1].stallAfter = microsteps
    }

    /// The position of `axis` (1-based) now, in microsteps.
    public func position(axis: Int) -> Int { axes[axis - 1].position(at: .now) }

    /// Whether `axis` (1-based) is moving now.
    public func isMoving(axis: Int) -> Bool { axes[axis - 1].isBusy(at: .now) }

    public func makeDecoder() -> LineFrameDecoder { LineFrameDecoder(terminator: .lineFeed, maxLength: 256) }

    public mutating func respond(to request: String, at now: ContinuousClock.Instant) -> [UInt8] {
        settle(at: now)
        guard let command = ZaberSimulatedCommand(parsing: request) else { return [] }
        received.append(request)
        guard command.checksumValid else {
            badChecksums += 1
            return []
        }
        guard command.device == 0 || command.device == deviceNumber else { return [] }
        let outcome = execute(command, at: now)
        return Array(reply(to: command, outcome, at: now).utf8)
    }

    public mutating func unsolicited(at now: ContinuousClock.Instant) -> [UInt8] {
        settle(at: now)
        defer { alerts = [] }
        return Array(alerts.joined().utf8)
    }

    public func nextWakeup(after now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        guard alertsEnabled else { return nil }
        return axes.compactMap { $0.motion?.finish }.filter { $0 > now }.min()
    }

    // MARK: - Commands

    /// What a command did: accepted with data, or rejected with a reason.
    private enum Outcome {
        case ok(String)
        case rejected(String)
    }

    private mutating func settle(at now: ContinuousClock.Instant) {
        for index in axes.indices where axes[index].settle(at: now) && alertsEnabled {
            let flag = axes[index].warnings(at: now).first ?? "--"
            alerts.append(String(format: "!%02d %d IDLE %@\r\n", deviceNumber, index + 1, flag))
        }
    }

    private mutating func execute(_ command: ZaberSimulatedCommand, at now: ContinuousClock.Instant) -> Outcome {
        guard command.axis <= axes.count else { return .rejected("BADAXIS") }
        let words = command.words
        switch words.first {
        case nil: return .ok("0")
        case "home" where words.count == 1:
            for index in targets(command.axis) { axes[index].home(at: now) }
            return .ok("0")
        case "stop" where words.count == 1:
            for index in targets(command.axis) { axes[index].stop(at: now) }
            return .ok("0")
        case "move": return move(words, axis: command.axis, at: now)
        case "get" where words.count == 2: return get(words[1], axis: command.axis, at: now)
        case "set" where words.count == 3: return set(words[1], to: words[2], axis: command.axis)
        case "warnings" where words.count == 1 || (words.count == 2 && words[1] == "clear"):
            return warnings(axis: command.axis, clear: words.count == 2, at: now)
        default: return .rejected("BADCOMMAND")
        }
    }

    /// The axis indices a command addresses: one axis, or all for axis 0.
    private func targets(_ axis: Int) -> [Int] { axis == 0 ? Array(axes.indices) : [axis - 1] }

    private mutating func move(_ words: [String], axis: Int, at now: ContinuousClock.Instant) -> Outcome {
        guard words.count >= 2 else { return .rejected("BADCOMMAND") }
        // Movement needs an axis on a multi-axis device; a one-axis device takes axis 0 as axis 1.
        guard axis != 0 || axes.count == 1 else { return .rejected("BADAXIS") }
        let index = max(axis, 1) - 1
        let current = axes[index].position(at: now)
        let target: Int
        switch (words[1], words.count) {
        case ("abs", 3), ("rel", 3):
            guard let value = Int(words[2]) else { return .rejected("BADDATA") }
            target = words[1] == "abs" ? value : current + value
        case ("min", 2): target = axes[index].limitMin
        case ("max", 2): target = axes[index].limitMax
        case ("abs", _), ("rel", _): return .rejected("BADDATA")
        default: return .rejected("BADCOMMAND")
        }
        guard (axes[index].limitMin...axes[index].limitMax).contains(target) else { return .rejected("BADDATA") }
        axes[index].move(to: target, at: now)
        return .ok("0")
    }

    private static let deviceSettings: Set = [
        "deviceid", "system.serial", "version", "system.axiscount", "comm.alert", "comm.packet.size.max", "comm.address",
    ]
    private static let axisSettings: Set = ["pos", "maxspeed", "accel", "resolution", "limit.min", "limit.max", "peripheralid"]

    private func get(_ setting: String, axis: Int, at now: ContinuousClock.Instant) -> Outcome {
        if Self.deviceSettings.contains(setting) {
            guard axis == 0 else { return .rejected("DEVICEONLY") }
            switch setting {
            case "deviceid": return .ok(String(deviceID))
            case "system.serial": return .ok(String(serialNumber))
            case "version": return .ok(firmwareVersion)
            case "system.axiscount": return .ok(String(axes.count))
            case "comm.alert": return .ok(alertsEnabled ? "1" : "0")
            case "comm.packet.size.max": return .ok("80")
            default: return .ok(String(deviceNumber))
            }
        }
        guard Self.axisSettings.contains(setting) else { return .rejected("BADCOMMAND") }
        let values = targets(axis).map { index -> String in
            let axis = axes[index]
            switch setting {
            case "pos": return String(axis.position(at: now))
            case "maxspeed": return String(axis.maxSpeed)
            case "accel": return String(axis.acceleration)
            case "resolution": return String(axis.resolution)
            case "limit.min": return String(axis.limitMin)
            case "limit.max": return String(axis.limitMax)
            default: return String(peripheralID)
            }
        }
        return .ok(values.joined(separator: " "))
    }

    private mutating func set(_ setting: String, to text: String, axis: Int) -> Outcome {
        guard let value = Int(text) else {
            return Self.deviceSettings.contains(setting) || Self.axisSettings.contains(setting)
                ? .rejected("BADDATA") : .rejected("BADCOMMAND")
        }
        switch setting {
        case "comm.alert":
            guard axis == 0 else { return .rejected("DEVICEONLY") }
            guard value == 0 || value == 1 else { return .rejected("BADDATA") }
            alertsEnabled = value == 1
        case "maxspeed":
            guard (1...16_384_000).contains(value) else { return .rejected("BADDATA") }
            for index in targets(axis) { axes[index].maxSpeed = value }
        case "accel":
            guard (0...32_767).contains(value) else { return .rejected("BADDATA") }
            for index in targets(axis) { axes[index].acceleration = value }
        default: return .rejected("BADCOMMAND")
        }
        return .ok("0")
    }

    private mutating func warnings(axis: Int, clear: Bool, at now: ContinuousClock.Instant) -> Outcome {
        let flags = targets(axis).flatMap { axes[$0].warnings(at: now) }
        if clear {
            for index in targets(axis) { axes[index].flags = [] }
        }
        return .ok(([String(format: "%02d", flags.count)] + flags).joined(separator: " "))
    }

    private func reply(to command: ZaberSimulatedCommand, _ outcome: Outcome, at now: ContinuousClock.Instant) -> String {
        let addressed = command.axis == 0 ? Array(axes.indices) : (command.axis <= axes.count ? [command.axis - 1] : [])
        let busy = addressed.contains { axes[$0].isBusy(at: now) }
        let flags = addressed.flatMap { axes[$0].warnings(at: now) }
        let rank: (String) -> Int = { ["F": 0, "W": 1, "N": 2][$0.first.map(String.init) ?? ""] ?? 3 }
        let flag = flags.min { rank($0) < rank($1) } ?? "--"
        var text = String(format: "@%02d %d", deviceNumber, command.axis)
        if let id = command.messageID { text += String(format: " %02d", id) }
        switch outcome {
        case .ok(let data): text += " OK \(busy ? "BUSY" : "IDLE") \(flag) \(data)"
        case .rejected(let reason): text += " RJ \(busy ? "BUSY" : "IDLE") \(flag) \(reason)"
        }
        return text + "\r\n"
    }
}
