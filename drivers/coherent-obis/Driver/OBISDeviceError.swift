import LabvisorDriverKit

/// The `ERR-xxx` codes of the OBIS operator's manual, and the `LabvisorError` each becomes.
enum OBISDeviceError {
    /// What each documented code means.
    static let meanings: [Int: String] = [
        0: "no error",
        100: "unrecognized command or query",
        102: "syntax error",
        109: "missing parameter",
        200: "execution error",
        203: "command protected",
        220: "invalid parameter",
        221: "settings conflict",
        241: "device unavailable",
        256: "file does not exist",
        257: "file to open not named",
        310: "unexpected or unrecoverable hardware or software fault",
        321: "out of memory",
        350: "error queue is full",
        400: "broadcast of query is prohibited",
        500: "Coherent Connection bus error",
        510: "I2C bus fault",
        520: "controller time out",
        900: "Coherent Connection message time out",
    ]

    /// The error code a device error maps to: a rejected parameter the caller chose (an
    /// `argument` is known) is the caller's `invalidArgument`, a full queue or memory is
    /// `resourceExhausted`, the rest (unknown command, syntax, a parameter the driver chose,
    /// hardware and bus faults) is a `driverFault`.
    static func errorCode(for code: Int, argument: String?) -> ErrorCode {
        switch code {
        case 220 where argument != nil: .invalidArgument
        case 321, 350: .resourceExhausted
        default: .driverFault
        }
    }

    /// The code in an `ERR-xxx` line, or nil when `line` is not one.
    static func code(in line: String) -> Int? {
        guard line.hasPrefix("ERR") else { return nil }
        let digits = line.dropFirst(3).drop { $0 == "-" || $0 == " " }
        return Int(digits) ?? -1
    }

    /// The error for `line` (an `ERR-xxx` reply to `command`); `argument` names what an
    /// `invalidArgument` is about.
    static func error(_ line: String, code: Int, command: String, instrument: String, argument: String?) -> LabvisorError {
        let meaning = meanings[code] ?? "unknown error"
        var fields: [String: JSONValue] = [
            "command": .string(command), "reply": .string(line), "deviceError": .string(line), "errorCode": .int(code),
        ]
        let errorCode = errorCode(for: code, argument: argument)
        var subject = ""
        if errorCode == .invalidArgument, let argument {
            fields["argument"] = .string(argument)
            subject = "argument '\(argument)': "
        }
        return LabvisorError(
            errorCode, "\(subject)the OBIS laser \(instrument) rejected '\(command)' with \(line) (\(meaning))", fields: fields)
    }
}
