/// Text-line request and response over a serial port, for ASCII instruments (Zaber, OBIS,
/// SCPI-style devices): write a command line, read the line(s) that answer it.
///
/// Built on `SerialExchange`, so one request runs at a time, a failed request resyncs
/// (stale input is discarded instead of answering the next command), and lines that are
/// not replies (`isReply` false: alerts, status broadcasts) are kept for
/// `nextUnsolicited(timeout:)`.
public final class LineChannel: Sendable {
    /// The exchange underneath, for what this type does not wrap.
    public let exchange: SerialExchange<LineFrameDecoder>
    /// Appended to every command written ("\n", "\r\n").
    public let lineEnding: String
    /// The default reply timeout.
    public let timeout: Duration

    /// Creates a channel.
    ///
    /// - Parameters:
    ///   - port: an open serial port (owned by the caller).
    ///   - lineEnding: appended to commands; lines read end at `\n` (with an optional `\r`),
    ///     or at `\r` when `lineEnding` is `"\r"`.
    ///   - timeout: the default time a command waits for its reply.
    ///   - maxLineLength: longer lines are garbage (`driverFault`, then resync).
    ///   - isReply: whether a line answers the command written; other lines are unsolicited.
    public init(
        port: SerialPort, lineEnding: String = "\n", timeout: Duration = .seconds(1), maxLineLength: Int = 1024,
        isReply: @escaping @Sendable (String) -> Bool = { _ in true }
    ) {
        self.lineEnding = lineEnding
        self.timeout = timeout
        exchange = SerialExchange(
            port: port,
            decoder: LineFrameDecoder(terminator: lineEnding == "\r" ? .carriageReturn : .lineFeed, maxLength: maxLineLength),
            isResponse: { _, line in isReply(line) })
    }

    /// The device node, for messages.
    public var path: String { exchange.port.path }

    /// Writes `command` and returns the first reply line.
    ///
    /// - Throws: `timeout` (after a resync), `driverFault` for garbage, `deviceGone`,
    ///   `closed`, `unavailable` (`cancelled: true`).
    public func query(_ command: String, timeout: Duration? = nil) async throws -> String {
        try await exchange.request(encode(command), timeout: timeout ?? self.timeout)
    }

    /// Writes `command` and collects reply lines until `isLast` accepts one (included).
    ///
    /// - Throws: as `query(_:timeout:)`.
    public func query(
        _ command: String, timeout: Duration? = nil, until isLast: (String) -> Bool
    ) async throws -> [String] {
        var lines: [String] = []
        return try await exchange.request(encode(command), timeout: timeout ?? self.timeout) { line in
            lines.append(line)
            return isLast(line) ? lines : nil
        }
    }

    /// Writes `command` and reads lines until `reply` makes a reply of one: for protocols
    /// whose driver parses each line anyway (one parse per line, no list of lines).
    ///
    /// - Parameter reply: called with each reply line in order; returns the reply, or `nil`
    ///   to read on. A throw ends the request (after a resync).
    /// - Throws: as `query(_:timeout:)`, and what `reply` throws.
    public func query<Reply>(
        _ command: String, timeout: Duration? = nil, reply: (String) throws -> Reply?
    ) async throws -> Reply {
        try await exchange.request(encode(command), timeout: timeout ?? self.timeout, assemble: reply)
    }

    /// Writes `command` without waiting for a reply.
    public func send(_ command: String, timeout: Duration? = nil) async throws {
        try await exchange.send(encode(command), timeout: timeout ?? self.timeout)
    }

    /// The next unsolicited line, or `nil` when none came within `timeout`.
    public func nextUnsolicited(timeout: Duration) async throws -> String? {
        try await exchange.nextUnsolicited(timeout: timeout)
    }

    private func encode(_ command: String) -> [UInt8] {
        Array((command + lineEnding).utf8)
    }
}
