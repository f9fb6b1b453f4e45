import LabvisorCore

/// The line settings of a serial port: speed, character format, flow control.
///
/// Standard baud rates go through `cfsetispeed`/`cfsetospeed`; any other rate is set with
/// termios2 (`BOTHER`), which the USB serial drivers (FTDI, CP210x, CH34x) honour.
public struct SerialSettings: Sendable, Hashable {
    /// Parity bit.
    public enum Parity: String, Sendable, Hashable, CaseIterable {
        /// No parity bit.
        case none
        /// Even parity.
        case even
        /// Odd parity.
        case odd
    }

    /// Stop bits per character.
    public enum StopBits: Int, Sendable, Hashable, CaseIterable {
        /// One stop bit.
        case one = 1
        /// Two stop bits.
        case two = 2
    }

    /// How the two sides pause each other.
    public enum FlowControl: String, Sendable, Hashable, CaseIterable {
        /// No flow control.
        case none
        /// Hardware flow control on the RTS and CTS lines (`CRTSCTS`).
        case rtsCts
        /// Software flow control with XON/XOFF characters (`IXON | IXOFF`).
        case xonXoff
    }

    /// Bits per second.
    public var baudRate: Int
    /// Data bits per character, 5 to 8.
    public var dataBits: Int
    /// The parity bit.
    public var parity: Parity
    /// The stop bits.
    public var stopBits: StopBits
    /// The flow control.
    public var flowControl: FlowControl
    /// Raw mode (`cfmakeraw`): no line editing, echo, signals or character translation.
    /// Instruments want this; `false` keeps the line discipline's other flags as they were.
    public var raw: Bool

    /// Creates settings; the defaults are 9600 8N1, no flow control, raw.
    public init(
        baudRate: Int = 9600, dataBits: Int = 8, parity: Parity = .none, stopBits: StopBits = .one,
        flowControl: FlowControl = .none, raw: Bool = true
    ) {
        self.baudRate = baudRate
        self.dataBits = dataBits
        self.parity = parity
        self.stopBits = stopBits
        self.flowControl = flowControl
        self.raw = raw
    }

    /// The highest rate accepted; no UART in a lab goes near it.
    public static let maximumBaudRate = 100_000_000

    /// Checks the settings without touching a device.
    ///
    /// - Parameter node: the device node, named in the error when given.
    /// - Throws: `invalidArgument` naming the setting (`fields["argument"]`).
    public func validate(for node: String? = nil) throws(LabvisorError) {
        if !(1...Self.maximumBaudRate).contains(baudRate) {
            throw Self.invalid("baudRate", "must be 1 to \(Self.maximumBaudRate) bits per second, got \(baudRate)", node: node)
        }
        if !(5...8).contains(dataBits) {
            throw Self.invalid("dataBits", "must be 5 to 8, got \(dataBits)", node: node)
        }
    }

    /// Whether `baudRate` is one of the rates termios names (`B9600`, ...).
    public var isStandardBaudRate: Bool { StandardBaudRate.speed(for: baudRate) != nil }

    private static func invalid(_ setting: String, _ reason: String, node: String?) -> LabvisorError {
        var error = LabvisorError.invalidArgument(setting, reason)
        if let node {
            error.message = "invalid serial setting '\(setting)' for \(node): \(reason)"
            error.fields["node"] = .string(node)
        }
        return error
    }
}

extension SerialSettings: CustomStringConvertible {
    /// `9600 8N1`, with the flow control when there is one.
    public var description: String {
        let parityLetter = switch parity {
        case .none: "N"
        case .even: "E"
        case .odd: "O"
        }
        let flow = flowControl == .none ? "" : " \(flowControl.rawValue)"
        return "\(baudRate) \(dataBits)\(parityLetter)\(stopBits.rawValue)\(flow)"
    }
}
