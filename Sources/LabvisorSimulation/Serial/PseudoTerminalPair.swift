import Glibc
import LabvisorCore

/// A PTY pair that plays a serial device: the simulator reads and writes the master side,
/// the code under test opens `path` (the slave node) as it would `/dev/ttyUSB0`.
///
/// The pair keeps a slave descriptor of its own, in raw mode, so that the master never sees
/// a hang-up while the code under test closes and reopens the port, and so the line
/// discipline does not echo commands back. Closing the master (`hangUp()`) is what an unplug
/// looks like to the port: its reads and writes fail at once.
public final class PseudoTerminalPair: Sendable {
    /// The slave node the code under test opens (`/dev/pts/7`).
    public let path: String
    /// The master descriptor (non-blocking, close-on-exec).
    public let master: Int32
    private let slave: Int32
    private let open = LockedState((master: true, slave: true))

    /// Opens a pair.
    ///
    /// - Throws: `unavailable` when the system has no PTY left.
    public init() throws(LabvisorError) {
        var master: Int32 = -1
        var slave: Int32 = -1
        guard openpty(&master, &slave, nil, nil, nil) == 0 else {
            throw LabvisorError(.unavailable, "cannot open a PTY pair: \(String(cString: strerror(errno)))")
        }
        var name = [CChar](repeating: 0, count: 128)
        guard ttyname_r(slave, &name, name.count) == 0 else {
            Glibc.close(master)
            Glibc.close(slave)
            throw LabvisorError(.unavailable, "cannot name the PTY's slave side")
        }
        var options = termios()
        tcgetattr(slave, &options)
        cfmakeraw(&options)
        tcsetattr(slave, TCSANOW, &options)
        _ = fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK)
        _ = fcntl(master, F_SETFD, FD_CLOEXEC)
        _ = fcntl(slave, F_SETFD, FD_CLOEXEC)
        self.master = master
        self.slave = slave
        self.path = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit {
        hangUp()
        closeSlave()
    }

    /// Closes the master side: the port's pending and later reads and writes fail (unplug).
    /// Idempotent.
    public func hangUp() {
        let wasOpen = open.withLock { state in
            defer { state.master = false }
            return state.master
        }
        if wasOpen { Glibc.close(master) }
    }

    /// Whether `hangUp()` was called.
    public var isHungUp: Bool { open.withLock { !$0.master } }

    private func closeSlave() {
        let wasOpen = open.withLock { state in
            defer { state.slave = false }
            return state.slave
        }
        if wasOpen { Glibc.close(slave) }
    }
}
