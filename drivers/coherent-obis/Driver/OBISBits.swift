import LabvisorDriverKit

/// The bit fields of `SYSTem:STATus?` and `SYSTem:FAULt?` (32-bit values in hexadecimal), with
/// the names the driver reports. Bit meanings from the OBIS operator's manual, as also listed
/// in the hapi project's OBIS header (see README.md).
enum OBISBits {
    /// `SYSTem:STATus?` bits, lowest first.
    static let status: [(bit: Int, name: String)] = [
        (0, "laserFault"), (1, "laserEmission"), (2, "laserReady"), (3, "laserStandby"), (4, "cdrhDelay"),
        (5, "laserHardwareFault"), (6, "laserError"), (7, "laserPowerCalibration"), (8, "laserWarmUp"),
        (9, "laserNoise"), (10, "externalOperatingMode"), (11, "fieldCalibration"), (12, "laserPowerVoltage"),
    ]

    /// `SYSTem:FAULt?` bits, lowest first.
    static let faults: [(bit: Int, name: String)] = [
        (0, "basePlateTemperature"), (1, "diodeTemperature"), (2, "internalTemperature"), (3, "laserPowerSupply"),
        (4, "i2cError"), (5, "overCurrent"), (6, "checksumError"), (7, "checksumRecovery"), (8, "bufferOverflow"),
        (9, "warmUpLimit"), (10, "tecDriver"), (11, "ccbError"), (12, "diodeTemperatureLimit"), (13, "laserReady"),
        (14, "photodiode"), (15, "fatal"), (16, "startup"), (17, "watchdogTimerReset"), (18, "fieldCalibration"),
        (20, "overPower"),
    ]

    /// Parses a reply such as `00000102` (an optional `0x` prefix is accepted).
    static func parse(_ reply: String) -> UInt32? {
        var digits = Substring(reply.trimmingPrefix(" "))
        if digits.lowercased().hasPrefix("0x") { digits = digits.dropFirst(2) }
        return UInt32(digits, radix: 16)
    }

    /// The names of the set bits of `code`; an undocumented set bit is named `bit<n>`.
    static func names(of code: UInt32, in table: [(bit: Int, name: String)]) -> [String] {
        (0..<32).filter { code & (1 << UInt32($0)) != 0 }.map { bit in
            table.first { $0.bit == bit }?.name ?? "bit\(bit)"
        }
    }

    /// The status as an object: the raw code and every documented bit by name.
    static func statusObject(_ code: UInt32) -> JSONValue {
        var object: [String: JSONValue] = ["code": .string(hex(code))]
        for (bit, name) in status { object[name] = .bool(code & (1 << UInt32(bit)) != 0) }
        return .object(object)
    }

    /// `code` as eight hexadecimal digits.
    static func hex(_ code: UInt32) -> String {
        let digits = String(code, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }
}
