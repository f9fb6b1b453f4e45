import CSerialShim
import Glibc
import LabvisorCore
import LabvisorHardware
import Testing

@Suite struct SerialPortTests {
    @Test func bytesTravelBothWays() async throws {
        try await withPortOnPTY { port, pty in
            try await port.write(Array("hello\n".utf8), timeout: .seconds(5))
            #expect(try await pty.readLine() == "hello")
            try await pty.write("world\r\n")
            var received: [UInt8] = []
            while received.count < 7 { received += try await port.read(upTo: 64, timeout: .seconds(5)) }
            #expect(received == Array("world\r\n".utf8))
        }
    }

    @Test func theDeviceSideSeesTheSettings() async throws {
        let settings = SerialSettings(baudRate: 115_200, dataBits: 7, parity: .even, stopBits: .two, flowControl: .rtsCts)
        try await withPortOnPTY(settings: settings) { port, pty in
            var options = termios()
            #expect(tcgetattr(pty.master, &options) == 0)
            #expect(cfgetospeed(&options) == speed_t(B115200))
            #expect(cfgetispeed(&options) == speed_t(B115200))
            #expect(options.c_cflag & tcflag_t(CRTSCTS) != 0)
            // Character size and parity cannot be checked here: the PTY driver forces CS8 and
            // clears PARENB whatever is set (pty_set_termios).
            #expect(options.c_iflag & tcflag_t(INPCK) != 0)
            #expect(options.c_cflag & tcflag_t(CSTOPB) != 0)
            #expect(options.c_lflag & tcflag_t(ICANON | ECHO) == 0)
            #expect(try port.readBaudRate() == 115_200)

            try port.apply(SerialSettings(baudRate: 9600, flowControl: .xonXoff))
            #expect(tcgetattr(pty.master, &options) == 0)
            #expect(cfgetospeed(&options) == speed_t(B9600))
            #expect(options.c_cflag & tcflag_t(CRTSCTS) == 0)
            #expect(options.c_iflag & tcflag_t(IXON) != 0)
            #expect(options.c_cflag & tcflag_t(CSIZE) == tcflag_t(CS8))
            #expect(port.settings.flowControl == .xonXoff)
        }
    }

    @Test func aNonStandardBaudRateGoesThroughTermios2() async throws {
        try await withPortOnPTY(settings: SerialSettings(baudRate: 250_000)) { port, pty in
            #expect(!port.settings.isStandardBaudRate)
            #expect(try port.readBaudRate() == 250_000)
            var output: UInt32 = 0
            var input: UInt32 = 0
            #expect(labvisor_serial_get_speed(pty.master, &output, &input) == 0)
            #expect(output == 250_000)
            #expect(input == 250_000)
            // Back to a standard rate.
            try port.apply(SerialSettings(baudRate: 57600))
            #expect(try port.readBaudRate() == 57600)
        }
    }

    @Test func aSecondOpenerIsToldThePortIsBusy() async throws {
        try await withPortOnPTY { port, pty in
            let error = await labvisorError { _ = try SerialPort.open(pty.path) }
            #expect(error?.code == .unavailable)
            #expect(error?.fields["reason"] == "busy")
            #expect(error?.fields["node"] == .string(pty.path))
            #expect(error?.message == "serial port \(pty.path) is busy: another process has it open")
            // Free again after close.
            port.close()
            let again = try SerialPort.open(pty.path, reactor: IOReactor.shared)
            again.close()
        }
    }

    @Test func openErrorsNameTheNode() async throws {
        let missing = await labvisorError { _ = try SerialPort.open("/dev/ttyLABVISOR-missing") }
        #expect(missing?.code == .notFound)
        #expect(missing?.message.contains("/dev/ttyLABVISOR-missing") == true)

        let notATerminal = await labvisorError { _ = try SerialPort.open("/dev/null") }
        #expect(notATerminal?.code == .invalidArgument)
        #expect(notATerminal?.message.contains("/dev/null") == true)
    }

    @Test(arguments: [
        (SerialSettings(dataBits: 9), "dataBits"),
        (SerialSettings(dataBits: 4), "dataBits"),
        (SerialSettings(baudRate: 0), "baudRate"),
        (SerialSettings(baudRate: -9600), "baudRate"),
    ])
    func invalidSettingsAreRefusedByName(settings: SerialSettings, setting: String) async throws {
        let error = await labvisorError { _ = try SerialPort.open("/dev/ttyLABVISOR-never-opened", settings: settings) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.fields["argument"] == .string(setting))
        #expect(error?.message.contains(setting) == true)
    }

    @Test func aReadWithoutDataTimesOut() async throws {
        try await withPortOnPTY { port, _ in
            let start = ContinuousClock.now
            let error = await labvisorError { _ = try await port.read(upTo: 16, timeout: .milliseconds(50)) }
            #expect(error?.code == .timeout)
            #expect(error?.message.contains(port.path) == true)
            #expect(ContinuousClock.now - start >= .milliseconds(45))
        }
    }

    @Test func unplugDuringAReadEndsItWithDeviceGoneAtOnce() async throws {
        try await withPortOnPTY { port, pty in
            let reader = startOnReactor(pty.reactor) { _ = try await port.read(upTo: 16, timeout: .seconds(10)) }
            try await Task.sleep(for: .milliseconds(50))
            let start = ContinuousClock.now
            pty.unplug()
            let (error, ended) = await reader.value
            let elapsed = ended - start
            print("serial unplug: read ended with \(error?.code.rawValue ?? "no error") after \(elapsed)")
            #expect(error?.code == .deviceGone)
            #expect(error?.fields["node"] != nil)
            #expect(elapsed < .seconds(1))
            // Later calls fail at once too.
            #expect(await labvisorError { try await port.write([1], timeout: .seconds(10)) }?.code == .deviceGone)
            #expect(await labvisorError { _ = try await port.read(upTo: 1, timeout: .seconds(10)) }?.code == .deviceGone)
        }
    }

    @Test func unplugDuringABlockedWriteEndsItWithDeviceGone() async throws {
        try await withPortOnPTY { port, pty in
            // Nobody reads the master: the write fills the PTY's buffers and waits.
            let writer = startOnReactor(pty.reactor) {
                try await port.write([UInt8](repeating: 0x55, count: 1 << 20), timeout: .seconds(10))
            }
            try await Task.sleep(for: .milliseconds(100))
            let start = ContinuousClock.now
            pty.unplug()
            let (error, ended) = await writer.value
            #expect(error?.code == .deviceGone)
            #expect(ended - start < .seconds(1))
        }
    }

    @Test func closeIsIdempotentAndUseAfterCloseSaysClosed() async throws {
        try await withPortOnPTY { port, _ in
            let reader = Task { await labvisorError { _ = try await port.read(upTo: 16, timeout: .seconds(10)) } }
            try await Task.sleep(for: .milliseconds(30))
            port.close()
            port.close()
            #expect(port.isClosed)
            #expect(await reader.value?.code == .closed)
            #expect(await labvisorError { _ = try await port.read(upTo: 1, timeout: .seconds(1)) }?.code == .closed)
            #expect(await labvisorError { try await port.write([1], timeout: .seconds(1)) }?.code == .closed)
            #expect(await labvisorError { try port.flush() }?.code == .closed)
            #expect(await labvisorError { try port.setDTR(true) }?.code == .closed)
        }
    }

    @Test func flushDiscardsInputAndDrainFinishes() async throws {
        try await withPortOnPTY { port, pty in
            try await pty.write("stale input\n")
            // Wait until it has arrived, without reading it.
            #expect(pty.waitUntilPortHasInput())
            try port.flush(.input)
            #expect(await labvisorError { _ = try await port.read(upTo: 64, timeout: .milliseconds(50)) }?.code == .timeout)

            try await port.write(Array("out\n".utf8), timeout: .seconds(5))
            try await port.drain(timeout: .seconds(5))
            #expect(try port.outputQueueCount() == 0)
            #expect(try await pty.readLine() == "out")
        }
    }

    @Test func modemLinesOnAPTYAreReportedAsUnsupported() async throws {
        try await withPortOnPTY { port, _ in
            let error = await labvisorError { try port.setDTR(true) }
            #expect(error?.code == .unavailable)
            #expect(error?.fields["reason"] == "unsupported")
            #expect(error?.message.contains(port.path) == true)
            #expect(await labvisorError { try port.setRTS(false) }?.fields["line"] == "RTS")
        }
    }
}
