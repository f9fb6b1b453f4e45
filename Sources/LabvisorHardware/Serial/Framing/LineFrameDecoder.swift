import LabvisorCore

/// Cuts text lines: frames end at `\n` (a `\r` before it is dropped too, so `\r\n` works)
/// or, for devices that end lines with a carriage return only, at `\r`.
///
/// A line longer than `maxLength` bytes (terminator excluded) is garbage: `nextFrame()`
/// throws `driverFault` with `reason: frameTooLong` and skips to the next terminator.
/// Bytes that are not UTF-8 become U+FFFD.
public struct LineFrameDecoder: FrameDecoder {
    /// What ends a line.
    public enum Terminator: Sendable, Hashable {
        /// `\n`, with an optional `\r` before it (`\r\n`).
        case lineFeed
        /// `\r` alone.
        case carriageReturn
    }

    /// What ends a line.
    public let terminator: Terminator
    /// The longest line accepted, in bytes, terminator excluded.
    public let maxLength: Int

    private var queue = ByteQueue()
    /// Offset up to which the queue holds no terminator.
    private var scanned = 0
    /// Inside an over-long line: drop bytes up to the next terminator.
    private var discarding = false

    /// Creates a decoder.
    ///
    /// - Parameters:
    ///   - terminator: what ends a line.
    ///   - maxLength: the longest line accepted (at least 1).
    public init(terminator: Terminator = .lineFeed, maxLength: Int = 1024) {
        precondition(maxLength >= 1, "LineFrameDecoder.maxLength must be at least 1")
        self.terminator = terminator
        self.maxLength = maxLength
    }

    public var bufferedByteCount: Int { queue.count }

    public mutating func append(_ bytes: some Collection<UInt8>) {
        queue.append(bytes)
    }

    public mutating func nextFrame() throws(LabvisorError) -> String? {
        let end: UInt8 = terminator == .lineFeed ? 0x0A : 0x0D
        while true {
            guard let terminatorOffset = queue.firstOffset(of: end, from: scanned) else {
                scanned = queue.count
                if discarding {
                    queue.removeAll()
                    scanned = 0
                } else if queue.count > maxLength + (terminator == .lineFeed ? 1 : 0) {
                    let length = queue.count
                    queue.removeAll()
                    scanned = 0
                    discarding = true
                    throw tooLong(length, complete: false)
                }
                return nil
            }
            var line = queue.take(terminatorOffset + 1)
            scanned = 0
            line.removeLast()
            if terminator == .lineFeed && line.last == 0x0D { line.removeLast() }
            if discarding {
                discarding = false
                continue
            }
            guard line.count <= maxLength else { throw tooLong(line.count, complete: true) }
            return String(decoding: line, as: UTF8.self)
        }
    }

    public mutating func reset() {
        queue.removeAll()
        scanned = 0
        discarding = false
    }

    private func tooLong(_ length: Int, complete: Bool) -> LabvisorError {
        var error = LabvisorError.badFrame(
            "frameTooLong",
            "line of \(complete ? "" : "at least ")\(length) bytes is longer than the limit of \(maxLength) bytes")
        error.fields["maxLength"] = .int(maxLength)
        return error
    }
}
