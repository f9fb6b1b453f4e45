#if canImport(Glibc)
    import Glibc
#endif

/// The modem control lines of a serial port, as the `TIOCM_*` bits of `TIOCMGET`.
public struct ModemLines: OptionSet, Sendable, Hashable, CustomStringConvertible {
    /// The `TIOCM_*` bits.
    public let rawValue: Int32

    /// The lines whose `TIOCM_*` bits are set in `rawValue`.
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// Data terminal ready (driven by the host).
    public static let dtr = ModemLines(rawValue: TIOCM_DTR)
    /// Request to send (driven by the host).
    public static let rts = ModemLines(rawValue: TIOCM_RTS)
    /// Clear to send (driven by the device).
    public static let cts = ModemLines(rawValue: TIOCM_CTS)
    /// Data set ready (driven by the device).
    public static let dsr = ModemLines(rawValue: TIOCM_DSR)
    /// Carrier detect (driven by the device).
    public static let carrierDetect = ModemLines(rawValue: TIOCM_CAR)

    /// The lines by name: `[DTR, RTS, CTS]`.
    public var description: String {
        let names: [(ModemLines, String)] = [(.dtr, "DTR"), (.rts, "RTS"), (.cts, "CTS"), (.dsr, "DSR"), (.carrierDetect, "CD")]
        return "[" + names.filter { contains($0.0) }.map(\.1).joined(separator: ", ") + "]"
    }
}
