import CSerialShim
import CUMockdev
import CUMockdevTTY
import LabvisorCore
import LabvisorHardware

#if canImport(Glibc)
    import Glibc
#endif

/// A serial device node (`/dev/ttyUSB0`) in a umockdev testbed, seen from the device side.
///
/// The node is a PTY: the code under test opens the node, the test plays the device on the
/// PTY's master (`umockdev_testbed_get_dev_fd`). umockdev 0.17 does not emulate the ioctls
/// a real serial driver answers beyond termios, so the node gets an ioctl handler (C, in
/// `CUMockdevTTY`) that answers `TIOCEXCL`/`TIOCNXCL` and the modem-line ioctls, keeps their
/// state for the test to read, and passes every other ioctl (termios, termios2, flush,
/// `TIOCOUTQ`) through to the PTY. The handler is attached before the record is added
/// (umockdev issue 173), so the node answers as soon as it exists.
///
/// What the master side can check: the speed (termios and termios2), `CRTSCTS`, `IXON`,
/// `CSTOPB`, `INPCK` and the local modes; not the character size or parity, which the PTY
/// driver forces to CS8 without parity.
///
/// Not `Sendable`, like `UmockdevTestbed`: used from the test's task. Talk to the code under
/// test through `device(on:)`, which is `Sendable`.
public final class MockSerialNode {
    /// The device node the code under test opens.
    public let path: String
    /// The PTY master (owned by the testbed, which closes it when it is freed).
    public let master: Int32

    private let handler: OpaquePointer
    private var deviceSide: SerialDeviceSide?
    private var hungUp = false

    /// Attaches the device side to `path`, then adds `record` (which must create `path` with
    /// an `N:` line without contents, a `SUBSYSTEM=tty` and a `dev` attribute).
    ///
    /// - Parameters:
    ///   - modemLines: the lines at start; by default the device answers CTS and DSR.
    /// - Throws: `unavailable` when umockdev refuses the handler or the record, or when the
    ///   record made no PTY for `path`.
    public init(
        adding record: String, node path: String, to testbed: UmockdevTestbed, modemLines: ModemLines = [.cts, .dsr]
    ) throws(LabvisorError) {
        guard let handler = labvisor_umockdev_tty_attach(testbed.pointer, path, modemLines.rawValue) else {
            throw LabvisorError(
                .unavailable, "umockdev refused an ioctl handler for \(path)", fields: ["node": .string(path)])
        }
        do {
            try testbed.add(record)
        } catch {
            labvisor_umockdev_tty_release(handler)
            throw error
        }
        let master = umockdev_testbed_get_dev_fd(testbed.pointer, path)
        guard master >= 0 else {
            labvisor_umockdev_tty_release(handler)
            throw LabvisorError(
                .unavailable, "the umockdev record made no PTY-backed node \(path) (an N: line without contents and SUBSYSTEM=tty)",
                fields: ["node": .string(path)])
        }
        self.path = path
        self.master = master
        self.handler = handler
    }

    deinit {
        deviceSide?.stop()
        labvisor_umockdev_tty_release(handler)
    }

    // MARK: - What the handler saw

    /// The modem lines now: the ones the device drives as given, DTR and RTS as the code
    /// under test set them.
    public var modemLines: ModemLines { ModemLines(rawValue: labvisor_umockdev_tty_modem_bits(handler)) }

    /// Whether the node is in exclusive mode (`TIOCEXCL` and no `TIOCNXCL` since).
    public var isExclusive: Bool { labvisor_umockdev_tty_exclusive(handler) != 0 }

    /// How many ioctls the handler answered itself (exclusive mode, modem lines).
    public var answeredIoctlCount: Int { Int(labvisor_umockdev_tty_answered_count(handler)) }

    /// How many ioctls the handler passed through to the PTY (termios and the rest).
    public var passedIoctlCount: Int { Int(labvisor_umockdev_tty_passed_count(handler)) }

    // MARK: - The line settings, read on the master

    /// The line settings as the device side sees them.
    ///
    /// - Throws: `unavailable` when the master cannot be read (after `hangUp()`).
    public func lineSettings() throws(LabvisorError) -> MockSerialLineSettings {
        guard !hungUp else { throw LabvisorError(.unavailable, "\(path) was unplugged", fields: ["node": .string(path)]) }
        var options = termios()
        var output: UInt32 = 0
        var input: UInt32 = 0
        guard tcgetattr(master, &options) == 0, labvisor_serial_get_speed(master, &output, &input) == 0 else {
            throw LabvisorError(
                .unavailable, "cannot read the settings of \(path) on its PTY master: \(String(cString: strerror(errno)))",
                fields: ["node": .string(path)])
        }
        return MockSerialLineSettings(termios: options, outputBaudRate: Int(output), inputBaudRate: Int(input))
    }

    // MARK: - Talking and unplugging

    /// The device end of the line, waiting on `reactor`. Call it once the code under test has
    /// opened the node: before that the master reports a hang-up (umockdev closed the PTY's
    /// other end when it made the node). Later calls return the same device side.
    public func device(on reactor: IOReactor) throws(LabvisorError) -> SerialDeviceSide {
        if let deviceSide { return deviceSide }
        guard !hungUp else { throw LabvisorError(.unavailable, "\(path) was unplugged", fields: ["node": .string(path)]) }
        let side = try SerialDeviceSide(master: master, name: "device side of \(path)", reactor: reactor)
        deviceSide = side
        return side
    }

    /// Unplugs the device as the kernel does for the open port: the PTY master goes away, so
    /// the port sees a hang-up (POLLHUP, then reads of 0 or EIO). umockdev's
    /// `remove_device` alone does not do this for a node that is already open.
    ///
    /// The testbed owns the master descriptor and closes it when it is freed, so it is not
    /// closed here: `/dev/null` is duplicated over it, which releases the master (the same
    /// effect as `close`) and keeps the number taken until the testbed closes it. A plain
    /// `close` would let the testbed later close whatever reused that number. Idempotent.
    public func hangUp() {
        guard !hungUp else { return }
        hungUp = true
        deviceSide?.stop()
        let null = open("/dev/null", O_RDWR | O_CLOEXEC)
        if null >= 0 {
            _ = dup2(null, master)
            _ = close(null)
        }
    }
}

/// The settings of a serial line as its device side (a PTY master) reads them.
public struct MockSerialLineSettings: Sendable, Hashable {
    /// The output speed in bits per second (termios2, so custom rates show as they are).
    public var outputBaudRate: Int
    /// The input speed in bits per second.
    public var inputBaudRate: Int
    /// `CRTSCTS`: hardware flow control.
    public var rtsCts: Bool
    /// `IXON`: software flow control on output.
    public var xonXoff: Bool
    /// `CSTOPB`: two stop bits.
    public var twoStopBits: Bool
    /// `INPCK`: parity checking on input (the PTY keeps it; `PARENB` it clears).
    public var parityChecked: Bool
    /// Neither canonical mode nor echo: raw input.
    public var raw: Bool

    init(termios options: termios, outputBaudRate: Int, inputBaudRate: Int) {
        self.outputBaudRate = outputBaudRate
        self.inputBaudRate = inputBaudRate
        rtsCts = options.c_cflag & tcflag_t(CRTSCTS) != 0
        xonXoff = options.c_iflag & tcflag_t(IXON) != 0
        twoStopBits = options.c_cflag & tcflag_t(CSTOPB) != 0
        parityChecked = options.c_iflag & tcflag_t(INPCK) != 0
        raw = options.c_lflag & tcflag_t(ICANON | ECHO) == 0
    }
}
