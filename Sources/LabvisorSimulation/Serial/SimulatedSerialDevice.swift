import Glibc
import LabvisorCore
import LabvisorHardware

/// Runs a `SerialDeviceModel` on the master side of a PTY: reads what the host writes,
/// decodes requests, writes the model's answers and its unsolicited output, and applies
/// injected faults. The code under test opens `path` like a real serial port.
///
/// No thread of its own: the master waits on an `IOReactor`, in one task started by
/// `start()` and ended by `stop()` (or `unplug()`).
public final class SimulatedSerialDevice<Model: SerialDeviceModel>: Sendable {
    /// The node the code under test opens.
    public var path: String { terminal.path }

    private let terminal: PseudoTerminalPair
    private let registration: IORegistration
    private let model: LockedState<Model>

    private struct Control: Sendable {
        var faults: [SerialFault] = []
        var task: Task<Void, Never>?
        var links: [String] = []
        var requests = 0
        var garbage = 0
    }

    private let control = LockedState(Control())

    /// Creates the device on a new PTY pair (call `start()` to make it answer).
    ///
    /// - Throws: `unavailable` when no PTY can be opened.
    public init(model: Model, reactor: IOReactor = .shared) throws(LabvisorError) {
        terminal = try PseudoTerminalPair()
        registration = try reactor.register(terminal.master, name: "simulated device \(terminal.path)")
        self.model = LockedState(model)
    }

    deinit {
        stop()
    }

    /// Starts answering. Idempotent.
    public func start() {
        control.withLock { control in
            guard control.task == nil else { return }
            control.task = Task { [self] in await self.serve() }
        }
    }

    /// Stops answering, removes links, and hangs up. Idempotent.
    public func stop() {
        let (task, links) = control.withLock { control in
            defer {
                control.task = nil
                control.links = []
            }
            return (control.task, control.links)
        }
        task?.cancel()
        for link in links { unlink(link) }
        unplug()
    }

    /// Unplugs the device: the master side hangs up, so the port's pending and later calls
    /// fail with `deviceGone`.
    public func unplug() {
        registration.deregister(ending: LabvisorError(.deviceGone, "simulated device \(path) was unplugged"))
        terminal.hangUp()
    }

    /// Whether the device was unplugged or stopped.
    public var isUnplugged: Bool { terminal.isHungUp }

    /// Makes `link` a symbolic link to `path` (replacing an old link), removed by `stop()`.
    ///
    /// - Throws: `unavailable` naming the link when it cannot be made.
    public func link(at link: String) throws(LabvisorError) {
        var info = stat()
        if lstat(link, &info) == 0 {
            guard (info.st_mode & S_IFMT) == S_IFLNK else {
                throw LabvisorError(.invalidArgument, "\(link) exists and is not a symbolic link; not replacing it",
                    fields: ["argument": "link", "path": .string(link)])
            }
            unlink(link)
        }
        guard symlink(path, link) == 0 else {
            throw LabvisorError(.unavailable, "cannot link \(link) to \(path): \(String(cString: strerror(errno)))",
                fields: ["path": .string(link)])
        }
        control.withLock { $0.links.append(link) }
    }

    /// Queues a fault for the next request(s).
    public func inject(_ fault: SerialFault) {
        control.withLock { $0.faults.append(fault) }
    }

    /// Reads or changes the device's state (a test checks the laser is off).
    public func withModel<Value>(_ body: (inout Model) throws -> Value) rethrows -> Value {
        try model.withLock { try body(&$0) }
    }

    /// Requests answered (or swallowed by a fault) so far.
    public var requestCount: Int { control.withLock { $0.requests } }

    /// Decoder errors (garbage from the host) seen so far.
    public var garbageCount: Int { control.withLock { $0.garbage } }

    // MARK: - Serving

    private func serve() async {
        var decoder = model.withLock { $0.makeDecoder() }
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !Task.isCancelled {
            let now = ContinuousClock.now
            let wakeup = model.withLock { $0.nextWakeup(after: now) }
            // Without a wakeup, look up once a second anyway (cancellation is prompt regardless).
            let deadline = min(wakeup ?? now + .seconds(1), now + .seconds(1))
            let input: [UInt8]
            do {
                input = try await registration.perform(.readable, deadline: deadline) { () throws(LabvisorError) -> [UInt8]? in
                    let count = Glibc.read(terminal.master, &buffer, buffer.count)
                    if count > 0 { return Array(buffer[..<count]) }
                    if count < 0 && (errno == EAGAIN || errno == EINTR) { return nil }
                    // EIO: no slave open (cannot happen while the pair keeps its own) or hung up.
                    throw LabvisorError(.deviceGone, "PTY master \(path) closed")
                }
            } catch let error as LabvisorError where error.code == .timeout {
                await send(model.withLock { $0.unsolicited(at: .now) })
                continue
            } catch {
                return
            }
            decoder.append(input)
            while true {
                let request: Model.Decoder.Frame
                do {
                    guard let frame = try decoder.nextFrame() else { break }
                    request = frame
                } catch {
                    control.withLock { $0.garbage += 1 }
                    await send(model.withLock { $0.respondToGarbage(error, at: .now) })
                    continue
                }
                await answer(request)
                if terminal.isHungUp { return }
            }
            await send(model.withLock { $0.unsolicited(at: .now) })
        }
    }

    private func answer(_ request: Model.Decoder.Frame) async {
        let fault = control.withLock { control -> SerialFault? in
            control.requests += 1
            guard !control.faults.isEmpty else { return nil }
            if case .noReply(let count) = control.faults[0], count > 1 {
                control.faults[0] = .noReply(count: count - 1)
                return .noReply(count: 1)
            }
            return control.faults.removeFirst()
        }
        if case .unplugOnNextRequest = fault {
            unplug()
            return
        }
        let reply = model.withLock { $0.respond(to: request, at: .now) }
        switch fault {
        case nil: await send(reply)
        case .noReply: break
        case .replaceReply(let bytes): await send(bytes)
        case .prefixGarbage(let bytes): await send(bytes + reply)
        case .truncateReply(let count): await send(Array(reply.prefix(count)))
        case .stall(let duration):
            try? await Task.sleep(for: duration)
            await send(reply)
        case .unplugOnNextRequest: break
        }
    }

    private func send(_ bytes: [UInt8]) async {
        var written = 0
        while written < bytes.count && !terminal.isHungUp {
            let offset = written
            do {
                written += try await registration.perform(.writable, deadline: .now + .seconds(5)) {
                    () throws(LabvisorError) -> Int? in
                    let result = bytes.withUnsafeBytes { Glibc.write(terminal.master, $0.baseAddress! + offset, $0.count - offset) }
                    if result >= 0 { return result }
                    if errno == EAGAIN || errno == EINTR { return nil }
                    throw LabvisorError(.deviceGone, "PTY master \(path) closed")
                }
            } catch {
                return
            }
        }
    }
}
