import LabvisorDriverTesting
import LabvisorCore
import LabvisorHardware
import LabvisorSimulation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The real serial code (`SerialPort`, `SerialExchange`, the reactor) against an FTDI-like
/// USB-serial device in a umockdev testbed: `/dev/ttyUSB0` is PTY-backed, the test plays the
/// device on the master side, and an ioctl handler on the node answers what a real serial
/// driver would (`TIOCEXCL`, modem lines). Each test re-runs itself under
/// `umockdev-wrapper` when this process lacks the preload (`UmockdevReexec`).
@Suite(.serialized) struct UmockdevSerialTests {
    static let node = "/dev/ttyUSB0"

    @Test func settingsOf115200With8N1AndRTSCTSReachTheDeviceSide() async throws {
        guard try await UmockdevReexec.runHere(suite: "UmockdevSerialTests") else { return }
        try await withSerialDevice { _, node, reactor in
            let port = try SerialPort.open(
                Self.node, settings: SerialSettings(baudRate: 115_200, flowControl: .rtsCts), reactor: reactor)
            defer { port.close() }
            let seen = try node.lineSettings()
            #expect(seen.outputBaudRate == 115_200)
            #expect(seen.inputBaudRate == 115_200)
            #expect(seen.rtsCts)
            #expect(!seen.xonXoff)
            #expect(!seen.twoStopBits)
            #expect(!seen.parityChecked)
            #expect(seen.raw)
            // glibc's own view of the master agrees.
            var options = termios()
            #expect(tcgetattr(node.master, &options) == 0)
            #expect(cfgetospeed(&options) == speed_t(B115200))
            #expect(try port.readBaudRate() == 115_200)
            // The termios calls went through the handler to the PTY.
            #expect(node.passedIoctlCount > 0)
        }
    }

    @Test func aNonStandardRateGoesThroughTermios2ToTheDeviceSide() async throws {
        guard try await UmockdevReexec.runHere(suite: "UmockdevSerialTests") else { return }
        try await withSerialDevice { _, node, reactor in
            let port = try SerialPort.open(
                Self.node, settings: SerialSettings(baudRate: 250_000, flowControl: .rtsCts), reactor: reactor)
            defer { port.close() }
            var seen = try node.lineSettings()
            #expect(seen.outputBaudRate == 250_000)
            #expect(seen.inputBaudRate == 250_000)
            #expect(seen.rtsCts)
            #expect(try port.readBaudRate() == 250_000)

            try port.apply(SerialSettings(baudRate: 9600, stopBits: .two, flowControl: .xonXoff))
            seen = try node.lineSettings()
            #expect(seen.outputBaudRate == 9600)
            #expect(!seen.rtsCts)
            #expect(seen.xonXoff)
            #expect(seen.twoStopBits)
        }
    }

    @Test func exclusiveModeAndDTRAndRTSReachTheHandler() async throws {
        guard try await UmockdevReexec.runHere(suite: "UmockdevSerialTests") else { return }
        try await withSerialDevice { _, node, reactor in
            #expect(!node.isExclusive)
            #expect(node.modemLines == [.cts, .dsr])
            let port = try SerialPort.open(Self.node, reactor: reactor)
            defer { port.close() }
            #expect(node.isExclusive)

            try port.setDTR(true)
            try port.setRTS(true)
            #expect(node.modemLines == [.dtr, .rts, .cts, .dsr])
            try port.setRTS(false)
            #expect(node.modemLines == [.dtr, .cts, .dsr])
            try port.setDTR(false)
            #expect(node.modemLines == [.cts, .dsr])
            #expect(node.answeredIoctlCount == 5)  // TIOCEXCL, two TIOCMBIS, two TIOCMBIC
        }
    }

    @Test func linesRequestedThroughSerialExchangeGetTheDevicesAnswers() async throws {
        guard try await UmockdevReexec.runHere(suite: "UmockdevSerialTests") else { return }
        try await withSerialDevice { _, node, reactor in
            let port = try SerialPort.open(
                Self.node, settings: SerialSettings(baudRate: 115_200, flowControl: .rtsCts), reactor: reactor)
            defer { port.close() }
            let device = try node.device(on: reactor)
            let serving = device.serveLines { line in "echo:\(line)\r\n" }
            defer { serving.cancel() }
            let exchange = SerialExchange(port: port, decoder: LineFrameDecoder())
            for index in 0..<20 {
                let reply = try await exchange.request(Array("*IDN? \(index)\n".utf8), timeout: .seconds(5))
                #expect(reply == "echo:*IDN? \(index)")
            }
        }
    }

    @Test func garbageAndPartialFramesFromTheDeviceLeadToAResyncNotAHang() async throws {
        guard try await UmockdevReexec.runHere(suite: "UmockdevSerialTests") else { return }
        try await withSerialDevice { _, node, reactor in
            let port = try SerialPort.open(Self.node, reactor: reactor)
            defer { port.close() }
            let device = try node.device(on: reactor)
            let (partialSent, partialSignal) = AsyncStream<Void>.makeStream()
            let serving = device.serveLines { line in
                switch line {
                case "noise": return String(repeating: "#", count: 200)  // garbage, no terminator
                case "half":
                    defer { partialSignal.yield() }
                    return "@01 0 OK IDLE"  // a partial frame: the rest never comes
                default: return "ok:\(line)\n"
                }
            }
            defer { serving.cancel() }
            let exchange = SerialExchange(port: port, decoder: LineFrameDecoder(maxLength: 32))

            let garbage = await labvisorError { _ = try await exchange.request(Array("noise\n".utf8), timeout: .seconds(5)) }
            #expect(garbage?.code == .driverFault)
            #expect(garbage?.fields["reason"] == "frameTooLong")
            #expect(try await exchange.request(Array("one\n".utf8), timeout: .seconds(5)) == "ok:one")

            let start = ContinuousClock.now
            let partial = await labvisorError { _ = try await exchange.request(Array("half\n".utf8), timeout: .milliseconds(200)) }
            #expect(partial?.code == .timeout)
            #expect(ContinuousClock.now - start < .seconds(2))
            for await _ in partialSent { break }
            // The partial frame does not prefix the next answer.
            #expect(try await exchange.request(Array("two\n".utf8), timeout: .seconds(5)) == "ok:two")
        }
    }

    @Test func unplugDuringAReadEndsItWithDeviceGoneFast() async throws {
        guard try await UmockdevReexec.runHere(suite: "UmockdevSerialTests") else { return }
        try await withSerialDevice { testbed, node, reactor in
            let port = try SerialPort.open(Self.node, reactor: reactor)
            defer { port.close() }
            // The read waits on the reactor thread, so the time measured is the port's, not
            // the wait for a free thread of the global executor.
            let reader = Task(executorPreference: reactor) {
                let error = await labvisorError { _ = try await port.read(upTo: 64, timeout: .seconds(10)) }
                return (error, ContinuousClock.now)
            }
            try await Task.sleep(for: .milliseconds(50))
            let start = ContinuousClock.now
            node.hangUp()
            testbed.uevent("/sys" + MockUSBRecords.ftdiTTYPath, "remove")
            testbed.uevent("/sys" + MockUSBRecords.ftdiInterfacePath, "remove")
            testbed.uevent("/sys" + MockUSBRecords.ftdiPath, "remove")
            testbed.remove("/sys" + MockUSBRecords.ftdiPath)
            let (error, ended) = await reader.value
            let elapsed = ended - start
            print("umockdev serial unplug: read ended with \(error?.code.rawValue ?? "no error") after \(elapsed)")
            #expect(error?.code == .deviceGone)
            #expect(error?.message.contains(Self.node) == true)
            #expect(elapsed < .milliseconds(500))
            // Later calls fail at once too, and the node is gone.
            #expect(await labvisorError { _ = try await port.read(upTo: 1, timeout: .seconds(10)) }?.code == .deviceGone)
            #expect(await labvisorError { try await port.write([1], timeout: .seconds(10)) }?.code == .deviceGone)
            #expect(await labvisorError { _ = try SerialPort.open(Self.node, reactor: reactor) }?.code == .notFound)
        }
    }

    /// Runs `body` with a testbed holding the FTDI adapter (its tty with the device side
    /// attached) and a reactor of its own, shut down afterwards.
    private func withSerialDevice(
        _ body: (UmockdevTestbed, MockSerialNode, IOReactor) async throws -> Void
    ) async throws {
        let testbed = try UmockdevTestbed()
        let node = try MockSerialNode(adding: MockUSBRecords.ftdiTerminal, node: Self.node, to: testbed)
        let reactor = IOReactor(name: "umockdev.io")
        defer { reactor.shutdown() }
        try await body(testbed, node, reactor)
        node.hangUp()
    }

    /// The `LabvisorError` that `body` throws, or `nil`.
    private func labvisorError(_ body: () async throws -> Void) async -> LabvisorError? {
        do {
            try await body()
            return nil
        } catch let error as LabvisorError {
            return error
        } catch {
            return LabvisorError(.driverFault, "unexpected error type: \(error)")
        }
    }
}
