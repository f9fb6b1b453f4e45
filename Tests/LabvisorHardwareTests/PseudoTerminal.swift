import Glibc
import LabvisorCore
import LabvisorHardware

/// A PTY pair for tests: the master side plays the device, `path` is the slave node the
/// code under test opens. The master is non-blocking and waits on `reactor`.
final class PseudoTerminal: Sendable {
    let path: String
    let master: Int32
    /// The reactor the master side waits on (and the port, in `withPortOnPTY`).
    let reactor: IOReactor
    /// The slave descriptor `openpty` returned, kept open so the master never reads EIO.
    private let slave: Int32
    private let registration: IORegistration
    private let lines = LockedState(LineFrameDecoder(maxLength: 4096))

    init(reactor: IOReactor) throws {
        var master: Int32 = -1
        var slave: Int32 = -1
        guard openpty(&master, &slave, nil, nil, nil) == 0 else {
            throw LabvisorError(.unavailable, "openpty failed: \(String(cString: strerror(errno)))")
        }
        var name = [CChar](repeating: 0, count: 128)
        guard ttyname_r(slave, &name, name.count) == 0 else {
            throw LabvisorError(.unavailable, "ttyname_r failed")
        }
        _ = fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK)
        _ = fcntl(master, F_SETFD, FD_CLOEXEC)
        _ = fcntl(slave, F_SETFD, FD_CLOEXEC)
        self.master = master
        self.slave = slave
        self.reactor = reactor
        self.path = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        self.registration = try reactor.register(master, name: "pty master \(path)")
    }

    /// Writes all of `bytes` to the device side.
    func write(_ bytes: [UInt8]) async throws {
        var written = 0
        while written < bytes.count {
            let offset = written
            written += try await registration.perform(.writable, deadline: .now + .seconds(5)) { () -> Int? in
                let result = bytes.withUnsafeBytes { Glibc.write(master, $0.baseAddress! + offset, $0.count - offset) }
                if result >= 0 { return result }
                if errno == EAGAIN { return nil }
                throw LabvisorError(.unavailable, "pty master write failed: \(String(cString: strerror(errno)))")
            }
        }
    }

    func write(_ text: String) async throws { try await write(Array(text.utf8)) }

    /// Reads what the port wrote, at least one byte.
    func read(timeout: Duration = .seconds(5)) async throws -> [UInt8] {
        try await registration.perform(.readable, deadline: .now + timeout) { () -> [UInt8]? in
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = Glibc.read(master, &buffer, buffer.count)
            if count > 0 { return Array(buffer[..<count]) }
            if count < 0 && errno == EAGAIN { return nil }
            throw LabvisorError(.deviceGone, "pty master read failed")
        }
    }

    /// Reads one line the port wrote (terminator `\n`, a `\r` before it dropped).
    func readLine(timeout: Duration = .seconds(5)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let line = try lines.withLock({ (decoder) throws(LabvisorError) in try decoder.nextFrame() }) { return line }
            let bytes = try await read(timeout: max(deadline - .now, .zero))
            lines.withLock { $0.append(bytes) }
        }
    }

    /// Plays a line device: answers every line with `answer(line)` (nil: no answer) until
    /// the task is cancelled or the pair is closed.
    func serveLines(_ answer: @escaping @Sendable (String) async -> String?) -> Task<Void, Never> {
        Task {
            while !Task.isCancelled {
                guard let line = try? await readLine(timeout: .seconds(10)) else { return }
                if let reply = await answer(line) { try? await write(reply) }
            }
        }
    }

    /// Waits (blocking, at most 2 s) until bytes written by the device can be read on the
    /// port's side, without reading them.
    func waitUntilPortHasInput() -> Bool {
        var entry = pollfd(fd: slave, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, 2000) == 1
    }

    /// Unplugs the device: closes the master, which hangs up the slave.
    func unplug() {
        guard registration.endError == nil else { return }
        registration.deregister(ending: LabvisorError.closed("pty master"))
        Glibc.close(master)
    }

    /// Closes both sides.
    func close() {
        unplug()
        Glibc.close(slave)
    }
}

/// Runs `body` with a reactor of its own and shuts the reactor down afterwards.
func withReactor<Result>(_ body: (IOReactor) async throws -> Result) async throws -> Result {
    let reactor = IOReactor(name: "test.io")
    defer { reactor.shutdown() }
    return try await body(reactor)
}

/// Runs `body` with a PTY pair and a port opened on its slave side.
func withPortOnPTY<Result>(
    settings: SerialSettings = SerialSettings(),
    _ body: (SerialPort, PseudoTerminal) async throws -> Result
) async throws -> Result {
    try await withReactor { reactor in
        let pty = try PseudoTerminal(reactor: reactor)
        defer { pty.close() }
        let port = try SerialPort.open(pty.path, settings: settings, reactor: reactor)
        defer { port.close() }
        return try await body(port, pty)
    }
}

/// Runs `operation` in a task on `reactor`'s thread; the task returns the error and the
/// instant it ended. A latency measured up to that instant does not include waiting for a
/// free thread of the global executor, which a ThreadSanitizer run of the whole suite on a
/// busy machine can starve for more than a second.
func startOnReactor(
    _ reactor: IOReactor, _ operation: @escaping @Sendable () async throws -> Void
) -> Task<(error: LabvisorError?, ended: ContinuousClock.Instant), Never> {
    Task(executorPreference: reactor) {
        let error = await labvisorError(operation)
        return (error, ContinuousClock.now)
    }
}

/// The `LabvisorError` that `body` throws, or `nil`.
func labvisorError(_ body: () async throws -> Void) async -> LabvisorError? {
    do {
        try await body()
        return nil
    } catch let error as LabvisorError {
        return error
    } catch {
        return LabvisorError(.driverFault, "unexpected error type: \(error)")
    }
}
