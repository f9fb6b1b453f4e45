import CSerialShim
import Glibc
import LabvisorCore
import Logging

/// An open serial port (a tty device node) with async reads and writes on an `IOReactor`.
///
/// Opening takes the port for this process: `TIOCEXCL` (no further opens, except by root)
/// and an exclusive `flock` (so a second opener, root or not, gets `unavailable` with
/// `reason: busy`), and discards input that arrived before the open (stale replies).
/// Reads and writes never block a thread: they wait on the reactor, with a
/// timeout and a cancellation path. A hang-up (unplug, or the other side of a PTY closing)
/// ends the pending and later calls with `deviceGone` at once.
///
/// System calls run under the port's lock, so `close()` can never close the descriptor
/// under a running call (or let a reused descriptor number be read by mistake).
public final class SerialPort: Sendable {
    /// The device node, as opened (`/dev/ttyUSB0`).
    public let path: String
    /// The event loop the port's reads and writes wait on. A task that makes many round
    /// trips can run with it as its executor: see `withReactorAffinity(_:)`.
    public let reactor: IOReactor

    private struct State: Sendable {
        var fd: Int32?
        var settings: SerialSettings
    }

    private let state: LockedState<State>
    private let registration: IORegistration

    /// Which buffered data `flush(_:)` discards.
    public enum FlushQueue: Sendable, Hashable {
        /// Received and not yet read.
        case input
        /// Written and not yet sent.
        case output
        /// Both.
        case both
    }

    // MARK: - Opening

    /// Opens the port at `path` and applies `settings`.
    ///
    /// - Parameters:
    ///   - path: the device node.
    ///   - settings: the line settings, checked before the node is opened.
    ///   - reactor: the event loop for reads and writes.
    ///   - logger: where warnings go (a port that does not support `TIOCEXCL`).
    /// - Throws: `invalidArgument` for invalid settings or a node that is not a terminal,
    ///   `notFound` for a missing node, `permissionDenied`, `unavailable` with
    ///   `reason: busy` when another process has the port open, `unavailable` otherwise.
    public static func open(
        _ path: String, settings: SerialSettings = SerialSettings(), reactor: IOReactor = .shared,
        logger: Logger = Logger(label: "labvisor.serial")
    ) throws(LabvisorError) -> SerialPort {
        try settings.validate(for: path)
        let fd = Glibc.open(path, O_RDWR | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else { throw openError(path, errno: errno) }
        do throws(LabvisorError) {
            guard isatty(fd) == 1 else {
                throw LabvisorError(
                    .invalidArgument, "\(path) is not a serial port (not a terminal device)",
                    fields: ["node": .string(path), "reason": "notATerminal"])
            }
            if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                let code = errno
                throw code == EWOULDBLOCK ? busy(path) : systemError("cannot lock serial port \(path)", path, errno: code)
            }
            if ioctl(fd, UInt(TIOCEXCL)) != 0 {
                let code = errno
                logger.warning(
                    "serial port \(path) does not support exclusive mode (TIOCEXCL): \(String(cString: strerror(code))); only flock keeps other processes out",
                    metadata: ["node": "\(path)", "errno": "\(code)"])
            }
            try apply(settings, to: fd, path: path)
            // Bytes that arrived before this open (a reply meant for the previous owner, a
            // power-on banner) must not answer this owner's first request. Best effort: a
            // port that cannot flush still works, and the exchange resyncs on stale bytes.
            if tcflush(fd, TCIFLUSH) != 0 {
                logger.debug("serial port \(path): discarding stale input failed: \(String(cString: strerror(errno)))")
            }
            let registration = try reactor.register(fd, name: "serial port \(path)")
            return SerialPort(path: path, fd: fd, settings: settings, reactor: reactor, registration: registration)
        } catch {
            Glibc.close(fd)
            throw error
        }
    }

    private init(path: String, fd: Int32, settings: SerialSettings, reactor: IOReactor, registration: IORegistration) {
        self.path = path
        self.reactor = reactor
        self.state = LockedState(State(fd: fd, settings: settings))
        self.registration = registration
    }

    deinit {
        close()
    }

    // MARK: - Settings and lines

    /// The settings last applied.
    public var settings: SerialSettings { state.withLock { $0.settings } }

    /// Applies new line settings.
    ///
    /// - Throws: `invalidArgument` naming the setting; `closed`; `unavailable` when the
    ///   driver refuses them.
    public func apply(_ settings: SerialSettings) throws(LabvisorError) {
        try settings.validate(for: path)
        try withDescriptor { (fd) throws(LabvisorError) in try Self.apply(settings, to: fd, path: path) }
        state.withLock { $0.settings = settings }
    }

    /// The output speed the driver reports now, in bits per second (read with termios2, so
    /// custom rates show as they are).
    public func readBaudRate() throws(LabvisorError) -> Int {
        try withDescriptor { (fd) throws(LabvisorError) -> Int in
            var output: UInt32 = 0
            var input: UInt32 = 0
            guard labvisor_serial_get_speed(fd, &output, &input) == 0 else {
                throw Self.systemError("cannot read the speed of serial port \(path)", path, errno: errno)
            }
            return Int(output)
        }
    }

    /// Raises or lowers the DTR line.
    ///
    /// - Throws: `unavailable` with `reason: unsupported` when the device has no modem
    ///   lines (a PTY); `closed`.
    public func setDTR(_ asserted: Bool) throws(LabvisorError) {
        try setModemLine(TIOCM_DTR, "DTR", asserted)
    }

    /// Raises or lowers the RTS line (with RTS/CTS flow control the driver drives it).
    ///
    /// - Throws: as `setDTR(_:)`.
    public func setRTS(_ asserted: Bool) throws(LabvisorError) {
        try setModemLine(TIOCM_RTS, "RTS", asserted)
    }

    /// Discards buffered input, output or both (`tcflush`).
    public func flush(_ queue: FlushQueue = .both) throws(LabvisorError) {
        let selector = switch queue {
        case .input: TCIFLUSH
        case .output: TCOFLUSH
        case .both: TCIOFLUSH
        }
        try withDescriptor { (fd) throws(LabvisorError) in
            guard tcflush(fd, selector) == 0 else {
                throw Self.systemError("cannot flush serial port \(path)", path, errno: errno)
            }
        }
    }

    /// Bytes written and not yet sent (`TIOCOUTQ`).
    public func outputQueueCount() throws(LabvisorError) -> Int {
        try withDescriptor { (fd) throws(LabvisorError) -> Int in
            var count: Int32 = 0
            guard ioctl(fd, UInt(TIOCOUTQ), &count) == 0 else {
                throw Self.systemError("cannot read the output queue of serial port \(path)", path, errno: errno)
            }
            return Int(count)
        }
    }

    /// Waits until every written byte has left the port. Polls the output queue at the pace
    /// of the line instead of blocking a thread in `tcdrain`.
    ///
    /// - Throws: `timeout` with the bytes still queued, `deviceGone`, `closed`, or
    ///   `unavailable` (`cancelled: true`) when the task is cancelled.
    public func drain(timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            try checkUsable()
            let queued = try outputQueueCount()
            if queued == 0 { return }
            let now = ContinuousClock.now
            guard now < deadline else {
                throw LabvisorError(
                    .timeout, "serial port \(path) did not drain its output within \(timeout.seconds) s (\(queued) bytes still queued)",
                    fields: ["node": .string(path), "timeout": .double(timeout.seconds), "queued": .int(queued)])
            }
            // Ten bits per byte on the line; look again when the queue should be empty.
            let estimate = Duration.seconds(Double(queued * 10) / Double(settings.baudRate))
            let pause = min(max(estimate, .milliseconds(1)), .milliseconds(20))
            do {
                try await Task.sleep(until: min(now + pause, deadline), clock: .continuous)
            } catch {
                throw LabvisorError.cancelled("draining serial port \(path)")
            }
        }
    }

    // MARK: - Reading and writing

    /// Reads what is available, up to `maxCount` bytes (at most 4096 per call), waiting for
    /// at least one byte.
    ///
    /// - Parameter timeout: how long to wait for the first byte; `nil` waits until the
    ///   task is cancelled.
    /// - Throws: `timeout`, `deviceGone` (hang-up or unplug, at once), `closed`,
    ///   `unavailable` (`cancelled: true`), `invalidArgument` for `maxCount < 1`.
    public func read(upTo maxCount: Int, timeout: Duration?) async throws -> [UInt8] {
        guard maxCount > 0 else { throw LabvisorError.invalidArgument("maxCount", "must be at least 1, got \(maxCount)") }
        // `perform` throws the closed or hang-up error before it tries the read.
        let deadline = timeout.map { ContinuousClock.now + $0 }
        do {
            // A read shorter than asked emptied the tty: the next read waits for input first.
            let asked = min(maxCount, Self.stackReadLimit)
            return try await registration.perform(.readable, deadline: deadline, drained: { $0.count < asked }) {
                () throws(LabvisorError) in try readNow(upTo: maxCount)
            }
        } catch let error as LabvisorError where error.code == .timeout {
            throw LabvisorError(
                .timeout, "no data from serial port \(path) within \(timeout?.seconds ?? 0) s",
                fields: ["node": .string(path), "timeout": .double(timeout?.seconds ?? 0)])
        }
    }

    /// Writes all of `bytes`, waiting for output space as needed.
    ///
    /// - Parameter timeout: for the whole write; `nil` waits until the task is cancelled.
    /// - Throws: `timeout` (with the count written), `deviceGone`, `closed`, `unavailable`
    ///   (`cancelled: true`).
    public func write(_ bytes: [UInt8], timeout: Duration?) async throws {
        // `perform` throws the closed or hang-up error before it tries the write.
        if bytes.isEmpty { try checkUsable() }
        let deadline = timeout.map { ContinuousClock.now + $0 }
        var written = 0
        while written < bytes.count {
            do {
                let offset = written
                written += try await registration.perform(.writable, deadline: deadline) { () throws(LabvisorError) in
                    try writeNow(bytes, from: offset)
                }
            } catch let error as LabvisorError where error.code == .timeout {
                throw LabvisorError(
                    .timeout,
                    "serial port \(path) did not accept its output within \(timeout?.seconds ?? 0) s (\(written) of \(bytes.count) bytes written)",
                    fields: [
                        "node": .string(path), "timeout": .double(timeout?.seconds ?? 0), "written": .int(written),
                        "count": .int(bytes.count),
                    ])
            }
        }
    }

    /// Runs `body` in the calling task with the port's reactor as its preferred executor,
    /// so that a wait on this port resumes on the reactor thread itself, without a hop to
    /// the global executor's threads (a cross-thread wake-up costs 20-40 us on a 2-vCPU
    /// machine; see `docs/serial.md`). For a driver's calls: a request/response loop.
    ///
    /// `body` runs between the reactor's `epoll_wait` calls, so it must not block (no
    /// blocking system calls, no long computation): that would stall every port on the
    /// reactor. Child tasks inherit the preference; `Task.detached` does not.
    public func withReactorAffinity<Result: Sendable>(
        _ body: () async throws -> Result
    ) async rethrows -> Result {
        try await withTaskExecutorPreference(reactor, operation: body)
    }

    // MARK: - Closing

    /// Whether `close()` was called.
    public var isClosed: Bool { state.withLock { $0.fd == nil } }

    /// Closes the port: pending reads and writes end with `closed`, the lock and the
    /// exclusive mode are released. Idempotent.
    public func close() {
        guard let fd = state.withLock({ state -> Int32? in
            defer { state.fd = nil }
            return state.fd
        }) else { return }
        registration.deregister(ending: closedError)
        Glibc.close(fd)
    }

    // MARK: - Internals

    /// The most one read takes, so its buffer can live on the stack (a tty hands out at most
    /// 4 KiB per read anyway).
    private static var stackReadLimit: Int { 4096 }

    private var closedError: LabvisorError {
        var error = LabvisorError.closed("serial port \(path)")
        error.fields["node"] = .string(path)
        return error
    }

    /// Throws `closed` after `close()`, and the hang-up error after a hang-up.
    private func checkUsable() throws(LabvisorError) {
        if isClosed { throw closedError }
        if let ended = registration.endError { throw ended }
    }

    /// Runs a system call on the descriptor, holding the lock so `close()` waits for it.
    private func withDescriptor<Value>(_ body: (Int32) throws(LabvisorError) -> Value) throws(LabvisorError) -> Value {
        try state.withLock { (state) throws(LabvisorError) -> Value in
            guard let fd = state.fd else { throw closedError }
            return try body(fd)
        }
    }

    private func readNow(upTo maxCount: Int) throws(LabvisorError) -> [UInt8]? {
        // Read into the stack and copy what came: a read that finds nothing (EAGAIN, the
        // common first attempt) allocates nothing, and a short reply gets a short array.
        let (bytes, result, code) = try withDescriptor { (fd) throws(LabvisorError) -> ([UInt8], Int, Int32) in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: min(maxCount, Self.stackReadLimit)) { buffer in
                while true {
                    let result = Glibc.read(fd, buffer.baseAddress, buffer.count)
                    let code = result < 0 ? errno : 0
                    if result < 0 && code == EINTR { continue }
                    return (result > 0 ? Array(buffer[..<result]) : [], result, code)
                }
            }
        }
        if result > 0 { return bytes }
        if result == 0 { throw gone("hung up (read returned end of file)") }
        switch code {
        case EAGAIN, EWOULDBLOCK: return nil
        case EIO, ENXIO, ENODEV: throw gone("hung up (read failed: \(String(cString: strerror(code))))")
        default: throw Self.systemError("cannot read from serial port \(path)", path, errno: code)
        }
    }

    private func writeNow(_ bytes: [UInt8], from offset: Int) throws(LabvisorError) -> Int? {
        let (result, code) = try withDescriptor { (fd) throws(LabvisorError) -> (Int, Int32) in
            while true {
                let result = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
                let code = result < 0 ? errno : 0
                if result < 0 && code == EINTR { continue }
                return (result, code)
            }
        }
        if result >= 0 { return result }
        switch code {
        case EAGAIN, EWOULDBLOCK: return nil
        case EIO, ENXIO, ENODEV: throw gone("hung up (write failed: \(String(cString: strerror(code))))")
        default: throw Self.systemError("cannot write to serial port \(path)", path, errno: code)
        }
    }

    /// Ends the registration (failing other waits at once) and returns the error to throw.
    private func gone(_ reason: String) -> LabvisorError {
        registration.markGone(reason)
        return registration.endError ?? registration.deviceGone(reason)
    }

    private func setModemLine(_ bit: Int32, _ line: String, _ asserted: Bool) throws(LabvisorError) {
        try withDescriptor { (fd) throws(LabvisorError) in
            var bits = bit
            guard ioctl(fd, UInt(asserted ? TIOCMBIS : TIOCMBIC), &bits) == 0 else {
                let code = errno
                if code == ENOTTY || code == EINVAL {
                    throw LabvisorError(
                        .unavailable, "serial port \(path) has no \(line) line (the device does not support modem control lines)",
                        fields: ["node": .string(path), "line": .string(line), "reason": "unsupported"])
                }
                throw Self.systemError("cannot set \(line) on serial port \(path)", path, errno: code)
            }
        }
    }

    /// Writes `settings` into the terminal `fd` (termios, then termios2 for a custom rate).
    private static func apply(_ settings: SerialSettings, to fd: Int32, path: String) throws(LabvisorError) {
        var options = termios()
        guard tcgetattr(fd, &options) == 0 else {
            throw systemError("cannot read the settings of serial port \(path)", path, errno: errno)
        }
        if settings.raw { cfmakeraw(&options) }
        options.c_cflag |= tcflag_t(CLOCAL | CREAD)
        options.c_cflag &= ~tcflag_t(CSIZE)
        let size: tcflag_t = switch settings.dataBits {
        case 5: tcflag_t(CS5)
        case 6: tcflag_t(CS6)
        case 7: tcflag_t(CS7)
        default: tcflag_t(CS8)
        }
        options.c_cflag |= size
        switch settings.parity {
        case .none:
            options.c_cflag &= ~tcflag_t(PARENB | PARODD)
            options.c_iflag &= ~tcflag_t(INPCK)
        case .even:
            options.c_cflag |= tcflag_t(PARENB)
            options.c_cflag &= ~tcflag_t(PARODD)
            options.c_iflag |= tcflag_t(INPCK)
        case .odd:
            options.c_cflag |= tcflag_t(PARENB | PARODD)
            options.c_iflag |= tcflag_t(INPCK)
        }
        if settings.stopBits == .two {
            options.c_cflag |= tcflag_t(CSTOPB)
        } else {
            options.c_cflag &= ~tcflag_t(CSTOPB)
        }
        options.c_cflag &= ~tcflag_t(CRTSCTS)
        options.c_iflag &= ~tcflag_t(IXON | IXOFF | IXANY)
        switch settings.flowControl {
        case .none: break
        case .rtsCts: options.c_cflag |= tcflag_t(CRTSCTS)
        case .xonXoff: options.c_iflag |= tcflag_t(IXON | IXOFF)
        }
        // A read returns as soon as one byte is there; with O_NONBLOCK an empty queue gives
        // EAGAIN (VMIN 0 would make it return 0, which reads as a hang-up).
        withUnsafeMutableBytes(of: &options.c_cc) { cc in
            cc[Int(VMIN)] = 1
            cc[Int(VTIME)] = 0
        }
        let standard = StandardBaudRate.speed(for: settings.baudRate)
        // A custom rate starts from a placeholder that termios2 replaces below.
        let speed = standard ?? speed_t(B38400)
        cfsetispeed(&options, speed)
        cfsetospeed(&options, speed)
        guard tcsetattr(fd, TCSANOW, &options) == 0 else {
            throw systemError("cannot apply settings \(settings) to serial port \(path)", path, errno: errno)
        }
        if standard == nil {
            guard labvisor_serial_set_custom_speed(fd, UInt32(settings.baudRate)) == 0 else {
                let code = errno
                if code == EINVAL {
                    throw LabvisorError(
                        .invalidArgument,
                        "invalid serial setting 'baudRate' for \(path): the driver refuses \(settings.baudRate) bits per second",
                        fields: ["argument": "baudRate", "node": .string(path), "reason": "refused by the driver"])
                }
                throw systemError("cannot set \(settings.baudRate) baud on serial port \(path)", path, errno: code)
            }
        }
    }

    private static func openError(_ path: String, errno code: Int32) -> LabvisorError {
        switch code {
        case ENOENT, ENODEV, ENXIO:
            LabvisorError(
                .notFound, "no serial port at \(path): \(String(cString: strerror(code)))",
                fields: ["kind": "serial port", "name": .string(path), "node": .string(path)])
        case EACCES, EPERM:
            LabvisorError(
                .permissionDenied,
                "no permission to open serial port \(path) (is this user in the device's group, e.g. dialout or labvisor?)",
                fields: ["node": .string(path), "errno": .int(Int(code))])
        case EBUSY:
            busy(path)
        default:
            systemError("cannot open serial port \(path)", path, errno: code)
        }
    }

    private static func busy(_ path: String) -> LabvisorError {
        LabvisorError(
            .unavailable, "serial port \(path) is busy: another process has it open",
            fields: ["node": .string(path), "reason": "busy"])
    }

    private static func systemError(_ what: String, _ path: String, errno code: Int32) -> LabvisorError {
        LabvisorError(
            .unavailable, "\(what): \(String(cString: strerror(code)))",
            fields: ["node": .string(path), "errno": .int(Int(code))])
    }
}
