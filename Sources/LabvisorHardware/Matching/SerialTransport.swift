/// A `kind = "serial"` transport: the port's line settings and, for ASCII protocols, what
/// ends a line.
public struct SerialTransport: Sendable, Hashable {
    /// The line settings the port is opened with (the same type `SerialPort` takes).
    public var settings: SerialSettings
    /// What ends a line of an ASCII protocol ("\n", "\r\n", "\r"); `nil` for binary protocols.
    public var lineEnding: String?

    /// Creates a serial transport.
    public init(settings: SerialSettings, lineEnding: String? = nil) {
        self.settings = settings
        self.lineEnding = lineEnding
    }
}
