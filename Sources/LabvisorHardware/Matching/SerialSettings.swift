/// The serial line settings of a `kind = "serial"` transport.
public struct SerialSettings: Sendable, Hashable {
    /// Parity of each character.
    public enum Parity: String, Sendable, Hashable, CaseIterable {
        case none, even, odd, mark, space
    }

    /// Flow control.
    public enum FlowControl: String, Sendable, Hashable, CaseIterable {
        /// No flow control.
        case none
        /// Hardware flow control on the RTS/CTS lines (`rts_cts` in the manifest).
        case rtsCts = "rts_cts"
        /// Software flow control with XON/XOFF characters (`xon_xoff` in the manifest).
        case xonXoff = "xon_xoff"
    }

    /// Bits per second.
    public var baud: Int
    /// Data bits per character, 5 to 8.
    public var dataBits: Int
    /// Parity.
    public var parity: Parity
    /// Stop bits, 1 or 2.
    public var stopBits: Int
    /// Flow control.
    public var flowControl: FlowControl
    /// What ends a line of an ASCII protocol ("\n", "\r\n", "\r"); `nil` for binary protocols.
    public var lineEnding: String?

    /// Creates serial settings.
    public init(
        baud: Int, dataBits: Int = 8, parity: Parity = .none, stopBits: Int = 1, flowControl: FlowControl = .none,
        lineEnding: String? = nil
    ) {
        self.baud = baud
        self.dataBits = dataBits
        self.parity = parity
        self.stopBits = stopBits
        self.flowControl = flowControl
        self.lineEnding = lineEnding
    }
}
