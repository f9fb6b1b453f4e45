import LabvisorCore
import LabvisorHardware

#if canImport(Glibc)
    import Glibc
#endif

/// The device end of a serial line: a PTY master on which a simulated instrument reads what
/// the code under test wrote and answers. Non-blocking, waiting on an `IOReactor`; every
/// wait has a timeout.
public final class SerialDeviceSide: Sendable {
    /// What it is, for messages.
    public let name: String
    private let master: Int32
    private let registration: IORegistration
    private let lines = LockedState(LineFrameDecoder(maxLength: 4096))

    /// Registers `master` (made non-blocking) with `reactor`. The caller keeps owning the
    /// descriptor and calls `stop()` before closing it.
    ///
    /// - Throws: `unavailable` when the reactor cannot watch it.
    public init(master: Int32, name: String, reactor: IOReactor) throws(LabvisorError) {
        _ = fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK)
        self.master = master
        self.name = name
        self.registration = try reactor.register(master, name: name)
    }

    /// Writes all of `bytes` to the code under test.
    ///
    /// - Throws: `timeout`, `deviceGone` when the other end is closed, `closed` after `stop()`.
    public func write(_ bytes: [UInt8], timeout: Duration = .seconds(5)) async throws {
        let deadline = ContinuousClock.now + timeout
        var written = 0
        while written < bytes.count {
            let offset = written
            written += try await registration.perform(.writable, deadline: deadline) { () throws(LabvisorError) -> Int? in
                let result = bytes.withUnsafeBytes { Glibc.write(master, $0.baseAddress! + offset, $0.count - offset) }
                if result >= 0 { return result }
                return try retryOrFail(errno, "write")
            }
        }
    }

    /// Writes `text` as UTF-8.
    public func write(_ text: String, timeout: Duration = .seconds(5)) async throws {
        try await write(Array(text.utf8), timeout: timeout)
    }

    /// Reads what the code under test wrote: at least one byte.
    ///
    /// - Throws: `timeout`, `deviceGone` when the other end is closed, `closed` after `stop()`.
    public func read(timeout: Duration = .seconds(5)) async throws -> [UInt8] {
        try await registration.perform(.readable, deadline: .now + timeout) { () throws(LabvisorError) -> [UInt8]? in
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = Glibc.read(master, &buffer, buffer.count)
            if count > 0 { return Array(buffer[..<count]) }
            if count == 0 { throw registration.deviceGone("the port side closed") }
            return try retryOrFail(errno, "read")
        }
    }

    /// Reads one line (terminator `\n`; a `\r` before it is dropped).
    ///
    /// - Throws: as `read(timeout:)`.
    public func readLine(timeout: Duration = .seconds(5)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let line = try lines.withLock({ (decoder) throws(LabvisorError) in try decoder.nextFrame() }) { return line }
            let bytes = try await read(timeout: max(deadline - .now, .zero))
            lines.withLock { $0.append(bytes) }
        }
    }

    /// Plays a line device: answers every line with `answer(line)` (`nil`: no answer) until
    /// the task is cancelled, `stop()` is called, the other end closes, or no line came
    /// for `idleLimit`.
    public func serveLines(
        idleLimit: Duration = .seconds(10), _ answer: @escaping @Sendable (String) async -> String?
    ) -> Task<Void, Never> {
        Task {
            while !Task.isCancelled {
                guard let line = try? await readLine(timeout: idleLimit) else { return }
                if let reply = await answer(line) { try? await write(reply) }
            }
        }
    }

    /// Ends pending and later reads and writes with `closed`. Idempotent.
    public func stop() {
        registration.deregister(ending: LabvisorError.closed(name))
    }

    /// `nil` (wait and retry) for EAGAIN, `deviceGone` for EIO (the other end was closed),
    /// `unavailable` otherwise.
    private func retryOrFail<Value>(_ code: Int32, _ what: String) throws(LabvisorError) -> Value? {
        switch code {
        case EAGAIN, EWOULDBLOCK, EINTR: return nil
        case EIO: throw registration.deviceGone("the port side closed (\(what) failed with EIO)")
        default:
            throw LabvisorError(
                .unavailable, "\(what) on \(name) failed: \(String(cString: strerror(code)))",
                fields: ["errno": .int(Int(code))])
        }
    }
}
