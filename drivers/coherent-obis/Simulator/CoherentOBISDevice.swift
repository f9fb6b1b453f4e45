import Foundation
import LabvisorSimulation

/// The device side of a Coherent OBIS 488 LX 150 mW laser: answers the SCPI-style commands of
/// the OBIS operator's manual (subset in README.md) and models emission over time.
///
/// - Emission on starts a warm-up: the measured power ramps linearly from 0 to the set-point
///   over `warmUp` (after `cdrhDelay` when CDRH is on). Measured power carries no noise, so
///   tests can assert it exactly.
/// - A latched fault (`faultCode`, bit fields of `SYSTem:FAULt?`) stops emission; while a
///   fault is latched, `SOURce:AM:STATe ON` is accepted but the laser stays off.
/// - With handshaking on (the default) every reply ends with `OK`; errors are `ERR-xxx`
///   lines and are also queued for `SYSTem:ERRor:COUNt?`.
public struct CoherentOBISDevice: SerialDeviceModel {
    /// The manufacturer field of `*IDN?`.
    public var manufacturer = "Coherent, Inc"
    /// `SYSTem:INFormation:MODel?`.
    public var model = "OBIS 488nm LX 150mW"
    /// `SYSTem:INFormation:SNUMber?`.
    public var serialNumber = "1234567"
    /// The firmware field of `*IDN?` and `SYSTem:INFormation:FVERsion?`.
    public var firmware = "V1.0.1"
    /// Wavelength, nm.
    public var wavelength = 488.0
    /// Nominal power, W.
    public var nominalPower = 0.150
    /// The set-point range, W.
    public var powerLimits = 0.0015...0.165
    /// The power set-point, W.
    public var setpoint = 0.010
    /// How long emission takes to reach the set-point.
    public var warmUp: Duration = .seconds(2)
    /// Whether the CDRH emission delay is on (`SYSTem:CDRH`).
    public var cdrh = false
    /// The CDRH delay before emission starts.
    public var cdrhDelay: Duration = .seconds(5)
    /// Whether replies end with `OK` (`SYSTem:COMMunicate:HANDshaking`).
    public var handshaking = true
    /// Whether the host turned the prompt off (`SYSTem:COMMunicate:PROMpt`); the simulator
    /// never sends a prompt, it only remembers the setting.
    public private(set) var prompt = false
    /// The operating mode (`SOURce:AM:SOURce?`): `CWP` after `SOURce:AM:INTernal CWP`.
    public var mode = "CWP"
    /// How many errors the queue holds before it answers `ERR-350`.
    public var errorQueueCapacity = 16
    /// The errors queued, oldest first.
    public var errorQueue: [Int] = []
    /// Every command line received, for tests.
    public private(set) var received: [String] = []

    /// The latched fault bits (`SYSTem:FAULt?`); setting any bit stops emission.
    public var faultCode: UInt32 = 0 {
        didSet {
            if faultCode != 0 {
                emissionRequested = false
                emissionStart = nil
            }
        }
    }

    /// Whether the host asked for emission (`SOURce:AM:STATe?`).
    public private(set) var emissionRequested = false
    /// When emission started (nil: not emitting).
    private var emissionStart: ContinuousClock.Instant?

    /// A laser with emission off, handshaking on and no faults.
    public init() {}

    public func makeDecoder() -> LineFrameDecoder { LineFrameDecoder(terminator: .lineFeed, maxLength: 256) }

    /// Whether the laser emits (or is in its CDRH delay before emitting).
    public var emitting: Bool { emissionRequested && emissionStart != nil }

    /// The power the laser's photodiode reads at `now`, W.
    public func measuredPower(at now: ContinuousClock.Instant) -> Double {
        guard emitting, let emissionStart, now >= emissionStart else { return 0 }
        let elapsed = (now - emissionStart).seconds
        let warm = warmUp.seconds
        return warm <= 0 ? setpoint : setpoint * min(1, elapsed / warm)
    }

    /// The status bits (`SYSTem:STATus?`) at `now`.
    public func statusCode(at now: ContinuousClock.Instant) -> UInt32 {
        var code: UInt32 = 0
        if faultCode != 0 { code |= 1 << 0 }
        if emitting { code |= 1 << 1 }
        if emitting, measuredPower(at: now) >= setpoint { code |= 1 << 2 }
        if !emitting { code |= 1 << 3 }
        if emitting, let emissionStart, now < emissionStart { code |= 1 << 4 }
        if !errorQueue.isEmpty { code |= 1 << 6 }
        if emitting, let emissionStart, now >= emissionStart, measuredPower(at: now) < setpoint { code |= 1 << 8 }
        if mode != "CWP" && mode != "CWC" { code |= 1 << 10 }
        return code
    }

    public mutating func respond(to request: String, at now: ContinuousClock.Instant) -> [UInt8] {
        let line = request.trimmingCharacters(in: .whitespaces)
        received.append(line)
        let header = line.prefix { $0 != " " }.uppercased()
        let argument = line.dropFirst(header.count).trimmingCharacters(in: .whitespaces)
        let reply: Reply
        if let query = answer(query: header, argument: argument, at: now) {
            reply = query
        } else {
            reply = perform(command: header, argument: argument, at: now)
        }
        return encode(reply)
    }

    public mutating func respondToGarbage(_ error: LabvisorError, at now: ContinuousClock.Instant) -> [UInt8] {
        encode(fail(100))
    }

    // MARK: - Commands

    private enum Reply {
        case value(String)
        case done
        case error(Int)
    }

    private static let idn = SCPIHeader("*IDN?")
    private static let infoModel = SCPIHeader("SYSTem:INFormation:MODel?")
    private static let infoSerial = SCPIHeader("SYSTem:INFormation:SNUMber?")
    private static let infoFirmware = SCPIHeader("SYSTem:INFormation:FVERsion?")
    private static let infoWavelength = SCPIHeader("SYSTem:INFormation:WAVelength?")
    private static let infoPower = SCPIHeader("SYSTem:INFormation:POWer?")
    private static let nominal = SCPIHeader("SOURce:POWer:NOMinal?")
    private static let limitLow = SCPIHeader("SOURce:POWer:LIMit:LOW?")
    private static let limitHigh = SCPIHeader("SOURce:POWer:LIMit:HIGH?")
    private static let amplitude = SCPIHeader("SOURce:POWer:LEVel:IMMediate:AMPLitude")
    private static let amplitudeQuery = SCPIHeader("SOURce:POWer:LEVel:IMMediate:AMPLitude?")
    private static let level = SCPIHeader("SOURce:POWer:LEVel?")
    private static let state = SCPIHeader("SOURce:AM:STATe")
    private static let stateQuery = SCPIHeader("SOURce:AM:STATe?")
    private static let internalMode = SCPIHeader("SOURce:AM:INTernal")
    private static let source = SCPIHeader("SOURce:AM:SOURce?")
    private static let status = SCPIHeader("SYSTem:STATus?")
    private static let fault = SCPIHeader("SYSTem:FAULt?")
    private static let cdrhCommand = SCPIHeader("SYSTem:CDRH")
    private static let cdrhQuery = SCPIHeader("SYSTem:CDRH?")
    private static let autostart = SCPIHeader("SYSTem:AUTostart?")
    private static let handshake = SCPIHeader("SYSTem:COMMunicate:HANDshaking")
    private static let handshakeQuery = SCPIHeader("SYSTem:COMMunicate:HANDshaking?")
    private static let promptCommand = SCPIHeader("SYSTem:COMMunicate:PROMpt")
    private static let errorCount = SCPIHeader("SYSTem:ERRor:COUNt?")
    private static let errorNext = SCPIHeader("SYSTem:ERRor:NEXT?")
    private static let errorClear = SCPIHeader("SYSTem:ERRor:CLEar")

    /// The answer to a query, or nil when `header` is not a query this device knows.
    private mutating func answer(query header: String, argument: String, at now: ContinuousClock.Instant) -> Reply? {
        guard header.hasSuffix("?") else { return nil }
        guard argument.isEmpty else { return fail(102) }
        func number(_ value: Double) -> Reply { .value(String(format: "%.6f", value)) }
        func hex(_ value: UInt32) -> Reply { .value(String(format: "%08X", value)) }
        func onOff(_ value: Bool) -> Reply { .value(value ? "ON" : "OFF") }
        switch header {
        case _ where Self.idn.matches(header):
            return .value("\(manufacturer) - \(model) - \(firmware) - Dec 14 2010")
        case _ where Self.infoModel.matches(header): return .value(model)
        case _ where Self.infoSerial.matches(header): return .value(serialNumber)
        case _ where Self.infoFirmware.matches(header): return .value(firmware)
        case _ where Self.infoWavelength.matches(header): return .value(String(format: "%.0f", wavelength))
        case _ where Self.infoPower.matches(header), _ where Self.nominal.matches(header): return number(nominalPower)
        case _ where Self.limitLow.matches(header): return number(powerLimits.lowerBound)
        case _ where Self.limitHigh.matches(header): return number(powerLimits.upperBound)
        case _ where Self.amplitudeQuery.matches(header): return number(setpoint)
        case _ where Self.level.matches(header): return number(measuredPower(at: now))
        case _ where Self.stateQuery.matches(header): return onOff(emissionRequested)
        case _ where Self.source.matches(header): return .value(mode)
        case _ where Self.status.matches(header): return hex(statusCode(at: now))
        case _ where Self.fault.matches(header): return hex(faultCode)
        case _ where Self.cdrhQuery.matches(header): return onOff(cdrh)
        case _ where Self.autostart.matches(header): return onOff(false)
        case _ where Self.handshakeQuery.matches(header): return onOff(handshaking)
        case _ where Self.errorCount.matches(header): return .value(String(errorQueue.count))
        case _ where Self.errorNext.matches(header):
            return .value(errorQueue.isEmpty ? "ERR-000" : "ERR-\(errorQueue.removeFirst())")
        default: return fail(100)
        }
    }

    /// Runs a command (not a query).
    private mutating func perform(command header: String, argument: String, at now: ContinuousClock.Instant) -> Reply {
        switch header {
        case _ where Self.amplitude.matches(header):
            guard !argument.isEmpty else { return fail(109) }
            guard let watts = Double(argument), watts.isFinite else { return fail(220) }
            guard powerLimits.contains(watts) else { return fail(220) }
            setpoint = watts
            return .done
        case _ where Self.state.matches(header):
            guard let on = onOff(argument) else { return argument.isEmpty ? fail(109) : fail(220) }
            if !on {
                emissionRequested = false
                emissionStart = nil
            } else if !emissionRequested, faultCode == 0 {
                // A latched fault keeps the laser off: the command is accepted, nothing emits.
                emissionRequested = true
                emissionStart = now + (cdrh ? cdrhDelay : .zero)
            }
            return .done
        case _ where Self.internalMode.matches(header):
            let value = argument.uppercased()
            guard ["CWP", "CWC"].contains(value) else { return argument.isEmpty ? fail(109) : fail(220) }
            mode = value
            return .done
        case _ where Self.cdrhCommand.matches(header): return set(\.cdrh, to: argument)
        case _ where Self.handshake.matches(header): return set(\.handshaking, to: argument)
        case _ where Self.promptCommand.matches(header): return set(\.prompt, to: argument)
        case _ where Self.errorClear.matches(header):
            errorQueue.removeAll()
            return .done
        default:
            return fail(100)
        }
    }

    /// Sets an ON/OFF setting (`ERR-220` for anything else).
    private mutating func set(_ setting: WritableKeyPath<Self, Bool>, to argument: String) -> Reply {
        guard let on = onOff(argument) else { return fail(220) }
        self[keyPath: setting] = on
        return .done
    }

    private func onOff(_ argument: String) -> Bool? {
        switch argument.uppercased() {
        case "ON", "1": true
        case "OFF", "0": false
        default: nil
        }
    }

    /// Queues `code` and answers it (or `ERR-350` when the queue is full).
    private mutating func fail(_ code: Int) -> Reply {
        guard errorQueue.count < errorQueueCapacity else { return .error(350) }
        errorQueue.append(code)
        return .error(code)
    }

    private func encode(_ reply: Reply) -> [UInt8] {
        let lines: [String]
        switch reply {
        case .value(let text): lines = handshaking ? [text, "OK"] : [text]
        case .done: lines = handshaking ? ["OK"] : []
        case .error(let code): lines = [String(format: "ERR-%03d", code)]
        }
        return Array(lines.map { $0 + "\r\n" }.joined().utf8)
    }
}
