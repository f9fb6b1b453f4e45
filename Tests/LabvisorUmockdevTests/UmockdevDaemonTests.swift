import Foundation
import LabvisorClient
import LabvisorDriverTesting
import LabvisorHardware
import LabvisorReferenceDrivers
import LabvisorSimulation
import Testing

/// The real `labvisord` under umockdev with a pinned FTDI serial device: discovery's coldplug
/// brings the instrument, a remove uevent makes it `gone`, an add re-attaches it under the
/// same name and the driver reopens for the client that holds it. The daemon is a child of
/// this test process, so it shares the testbed (`UMOCKDEV_DIR`, the preload); the reference
/// heater simulator plays the device behind `/dev/ttyUSB0` through a `SerialRelay`.
@Suite(.serialized) struct UmockdevDaemonTests {
    static let node = "/dev/ttyUSB0"
    static let name = "heater-u"

    @Test func aPinnedSerialDeviceAppearsGoesAndComesBackUnderTheSameName() async throws {
        guard try await UmockdevReexec.runHere(suite: "UmockdevDaemonTests") else { return }
        let testbed = try UmockdevTestbed()
        let reactor = IOReactor(name: "umockdev.io")
        defer { reactor.shutdown() }
        let simulator = try ReferenceDrivers.simulators.entry("example-heater").start(reactor)
        defer { simulator.stop() }
        let simulated = try SerialPort.open(simulator.path, reactor: reactor)
        defer { simulated.close() }
        let node = try MockSerialNode(adding: MockUSBRecords.ftdiTerminal, node: Self.node, to: testbed)

        let daemon = try Daemon(
            configuration: """
                [daemon]
                drivers = ["\(Self.root.appendingPathComponent("drivers").path)"]
                grace_period = 30
                [[instrument]]
                name = "\(Self.name)"
                driver = "example-heater"
                serial = "FT5XYZ12"
                tags = { room = "umockdev" }
                """)
        defer { daemon.kill() }
        do {
            try await run(daemon, node: node, simulated: simulated, testbed: testbed)
        } catch {
            Issue.record("labvisord's log:\n\(daemon.logText)")
            throw error
        }
        node.hangUp()
    }

    /// The USB camera path of the daemon under umockdev: the simulated UVC camera is a USB
    /// device of this process's testbed (its usbdevfs ioctls answered here); the daemon, a
    /// child sharing the testbed, discovers it through udev, binds the pinned name, opens it
    /// through libusb (uvcvideo detached), and streams its frames to the client.
    @Test func aUVCCameraIsDiscoveredOpenedThroughLibusbAndStreamsFrames() async throws {
        guard try await UmockdevReexec.runHere(suite: "UmockdevDaemonTests") else { return }
        let testbed = try UmockdevTestbed()
        let simulation = try ReferenceDrivers.usbSimulators.entry("uvc-camera").make()
        let device = try SimulatedUSBDevice(
            testbed: testbed, descriptors: simulation.descriptors, behavior: simulation.behavior, bus: 1, address: 7, port: 3,
            kernelDrivers: simulation.kernelDrivers)
        let camera = "camera-u"
        let daemon = try Daemon(
            configuration: """
                [daemon]
                drivers = ["\(Self.root.appendingPathComponent("drivers").path)"]
                [[instrument]]
                name = "\(camera)"
                driver = "uvc-camera"
                serial = "\(simulation.descriptors.serialNumber ?? "")"
                """)
        defer { daemon.kill() }
        do {
            let client = try await daemon.connect()
            let listed = try await eventually("\(camera) listed") { try await client.list().first { $0.name == camera } }
            #expect(listed.identity?.serial == simulation.descriptors.serialNumber)
            #expect(listed.simulated == false, "to the daemon it is a USB device like any other")
            let lease = try await client.acquire([camera])
            let frames = try await client.frames(instrument: camera, queue: 4)
            _ = try await client.invoke(camera, "startStreaming", ["format": "GREY", "width": 640, "height": 480], timeout: .seconds(30))
            var sequences: [UInt64] = []
            for _ in 0..<3 {
                let frame = try #require(try await frames.next(timeout: .seconds(20)), "a frame within 20 s")
                #expect(frame.width == 640 && frame.height == 480 && frame.format == "GREY")
                #expect(frame.bytes.count == 640 * 480)
                sequences.append(frame.sequence)
            }
            #expect(sequences == sequences.sorted() && Set(sequences).count == 3)
            #expect(device.claimedInterfaces.contains(1), "the daemon claimed the streaming interface through libusb")
            try await frames.close()
            _ = try await client.invoke(camera, "stopStreaming", timeout: .seconds(30))
            try await client.release(lease)
            await client.close()
            #expect(try await daemon.stop() == 0, "\(daemon.logText)")
        } catch {
            Issue.record("labvisord's log:\n\(daemon.logText)")
            throw error
        }
    }

    private func run(_ daemon: Daemon, node: MockSerialNode, simulated: SerialPort, testbed: UmockdevTestbed) async throws {
        let client = try await daemon.connect()

        // Coldplug: the pinned device is an instrument, its driver not opened yet.
        let appeared = try await eventually("\(Self.name) listed") { try await client.list().first { $0.name == Self.name } }
        #expect(appeared.identity?.serial == "FT5XYZ12")
        #expect(appeared.tags["room"] == "umockdev")
        #expect(!node.isExclusive, "nothing opened the port before a client used it")

        // First use opens /dev/ttyUSB0 through the real serial code; the simulator answers.
        var relay = try await answer(on: node, with: simulated) {
            try await client.get(Self.name, "heating", timeout: .seconds(10))
        }
        #expect(relay.value == false)
        #expect(try await client.list().first { $0.name == Self.name }?.state == "ready")

        // Unplug: udev says remove (children first, as the kernel does). The daemon's driver
        // goes to its safe state and closes the port; the tty hangs up on the device side,
        // which ends the relay. (The node stays: umockdev 0.17 cannot add a removed record again.)
        let opensBefore = node.answeredIoctlCount
        Self.send("remove", to: testbed)
        _ = try await eventually("\(Self.name) gone") {
            try await client.list().first { $0.name == Self.name && $0.state == "gone" }
        }
        let gone = await #expect(throws: LabvisorError.self) { try await client.get(Self.name, "heating", timeout: .seconds(10)) }
        #expect(gone?.code == .deviceGone)

        await relay.relay.stop()
        // What the old connection left unread on the line (its last words to the device) must
        // not answer the new one's first request; nor may the device's late answers to them
        // (the shutdown's command, sent while the relay still ran, answered after it stopped).
        try await Self.drainUntilClosed(node)
        await Self.drainUntilQuiet(simulated)

        // Plugged back in (udev says add): the same device re-attaches under the same name, and
        // since this client still holds the instrument, the daemon reopens the driver by itself.
        Self.send("add", to: testbed)
        // The first device side ended with the hang-up the port's close caused: a new one, on a
        // reactor of its own (the old registration of the master may linger in the first).
        let replugReactor = IOReactor(name: "umockdev.io.replug")
        defer { replugReactor.shutdown() }
        relay = try await answer(on: node, after: opensBefore, reactor: replugReactor, with: simulated) {
            _ = try await eventually("\(Self.name) reopened") {
                try await client.list().first { $0.name == Self.name && $0.state == "ready" }
            }
            return try await client.get(Self.name, "heating", timeout: .seconds(10))
        }
        #expect(relay.value == false)
        #expect(try await client.list().filter { $0.name == Self.name }.count == 1, "the same instrument, not a second one")
        await client.close()
        #expect(try await daemon.stop() == 0, "\(daemon.logText)")
        await relay.relay.stop()
    }

    /// SIGTERM with a laser emitting: the daemon turns emission off (the OBIS driver's safe
    /// state) before it exits, and exits 0. The laser simulator runs in this process, behind
    /// the pinned FTDI device, so its state is read after the daemon is gone: over its own
    /// serial line (`SOURce:AM:STATe?`), as a person with a terminal would.
    @Test func sigtermTurnsTheLasersEmissionOffAndExitsZero() async throws {
        guard try await UmockdevReexec.runHere(suite: "UmockdevDaemonTests") else { return }
        let testbed = try UmockdevTestbed()
        let reactor = IOReactor(name: "umockdev.io")
        defer { reactor.shutdown() }
        let simulator = try ReferenceDrivers.simulators.entry("coherent-obis").start(reactor)
        defer { simulator.stop() }
        let simulated = try SerialPort.open(simulator.path, reactor: reactor)
        defer { simulated.close() }
        let node = try MockSerialNode(adding: MockUSBRecords.ftdiTerminal, node: Self.node, to: testbed)
        let laser = "laser-u"
        let daemon = try Daemon(
            configuration: """
                [daemon]
                drivers = ["\(Self.root.appendingPathComponent("drivers").path)"]
                linger = 600
                [[instrument]]
                name = "\(laser)"
                driver = "coherent-obis"
                serial = "FT5XYZ12"
                """)
        defer { daemon.kill() }
        let client = try await daemon.connect()
        _ = try await eventually("\(laser) listed") { try await client.list().first { $0.name == laser } }
        let lease = try await client.acquire([laser], timeout: .seconds(10))
        #expect(lease.instruments == [laser])
        let (_, relay) = try await answer(on: node, with: simulated) {
            try await client.invoke(laser, "emissionOn", timeout: .seconds(10))
        }
        #expect(try await client.get(laser, "emission", timeout: .seconds(10)) == true)

        // The client still holds the lease and the session: only the daemon's stop ends them.
        let status = try await daemon.stop()
        #expect(status == 0, "\(daemon.logText)")
        await relay.stop()
        await Self.drainUntilQuiet(simulated)
        try await simulated.write(Array("SOURce:AM:STATe?\r\n".utf8), timeout: .seconds(5))
        var reply = ""
        let deadline = ContinuousClock.now + .seconds(10)
        while !reply.contains("OK"), ContinuousClock.now < deadline {
            reply += String(decoding: try await simulated.read(upTo: 256, timeout: .seconds(5)), as: UTF8.self)
        }
        #expect(reply.hasPrefix("OFF"), "the laser's answer after the daemon exited: \(reply.debugDescription)")
        await client.close()
        node.hangUp()
    }

    // MARK: - Helpers

    /// The uevents of the FTDI adapter's usb_device, interface and tty: `add` parents first,
    /// `remove` children first, as the kernel sends them.
    static func send(_ action: String, to testbed: UmockdevTestbed) {
        let paths = [MockUSBRecords.ftdiPath, MockUSBRecords.ftdiInterfacePath, MockUSBRecords.ftdiTTYPath]
        for path in action == "remove" ? paths.reversed() : paths { testbed.uevent("/sys" + path, action) }
    }

    /// Reads and drops what is left on `node`'s master until the daemon has closed its end
    /// (the read fails with EIO). At most 20 s.
    static func drainUntilClosed(_ node: MockSerialNode) async throws {
        let flags = fcntl(node.master, F_GETFL)
        _ = fcntl(node.master, F_SETFL, flags | O_NONBLOCK)
        var buffer = [UInt8](repeating: 0, count: 4096)
        let deadline = ContinuousClock.now + .seconds(20)
        while true {
            let count = read(node.master, &buffer, buffer.count)
            if count < 0 && errno == EIO { return }
            guard ContinuousClock.now < deadline else {
                throw LabvisorError(.timeout, "the daemon did not close \(node.path) within 20 s")
            }
            if count <= 0 { try await Task.sleep(for: .milliseconds(10)) }
        }
    }

    /// Reads and drops what `port` has to say until it says nothing for 300 ms (at most 5 s).
    static func drainUntilQuiet(_ port: SerialPort) async {
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline {
            guard let bytes = try? await port.read(upTo: 4096, timeout: .milliseconds(300)), !bytes.isEmpty else { return }
        }
    }

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Runs `body` (which makes the daemon open the node) while waiting for the daemon to
    /// open `node` (its `TIOCEXCL`, the `opens + 1`th ioctl the handler answers), then relays
    /// it to the simulator so the driver's requests get answers.
    private func answer<Value: Sendable>(
        on node: MockSerialNode, after opens: Int = 0, reactor: IOReactor? = nil, with simulator: SerialPort,
        _ body: @escaping @Sendable () async throws -> Value
    ) async throws -> (value: Value, relay: SerialRelay) {
        let call = Task { try await body() }
        let deadline = ContinuousClock.now + .seconds(20)
        while node.answeredIoctlCount <= opens {
            guard ContinuousClock.now < deadline else {
                call.cancel()
                throw LabvisorError(.timeout, "the daemon did not open \(node.path) within 20 s")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        let device = try reactor.map { try SerialDeviceSide(master: node.master, name: "device side of \(node.path)", reactor: $0) }
            ?? node.device(on: IOReactor.shared)
        let relay = SerialRelay(device: device, simulator: simulator)
        return (try await call.value, relay)
    }

    /// Polls `probe` (bounded: 20 s) until it returns a value.
    private func eventually<Value>(_ what: String, _ probe: () async throws -> Value?) async throws -> Value {
        let deadline = ContinuousClock.now + .seconds(20)
        while true {
            if let value = try await probe() { return value }
            guard ContinuousClock.now < deadline else { throw LabvisorError(.timeout, "\(what): not within 20 s") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

/// `labvisord` as a child of this test, with a configuration file and a private socket.
final class Daemon: Sendable {
    let folder: URL
    let socket: String
    let log: URL
    private let process: Process

    init(configuration: String) throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("labvisord-umockdev-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let file = folder.appendingPathComponent("labvisord.toml")
        try configuration.write(to: file, atomically: true, encoding: .utf8)
        // Short: a unix socket path has at most 107 bytes, and TMPDIR is long under the re-exec.
        socket = "/tmp/labvisord-umockdev-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        log = folder.appendingPathComponent("labvisord.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process = Process()
        process.executableURL = try BuiltExecutables.url("labvisord")
        process.arguments = ["--config", file.path, "--socket", socket]
        var environment = ProcessInfo.processInfo.environment
        environment["LABVISOR_LOG_LEVEL"] = "debug"
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
    }

    var logText: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    /// Connects once the socket answers (bounded: 20 s).
    func connect() async throws -> Labvisor {
        let deadline = ContinuousClock.now + .seconds(20)
        while true {
            if let client = try? await Labvisor.connect(to: .unix(socket)) { return client }
            guard process.isRunning, ContinuousClock.now < deadline else {
                throw LabvisorError(.unavailable, "labvisord did not start listening: \(logText)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// SIGTERM, then the exit status (bounded: 15 s).
    func stop() async throws -> Int32 {
        process.terminate()
        let deadline = ContinuousClock.now + .seconds(15)
        while process.isRunning {
            guard ContinuousClock.now < deadline else {
                kill()
                throw LabvisorError(.timeout, "labvisord did not exit within 15 s of SIGTERM")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        return process.terminationStatus
    }

    func kill() {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: folder)
        try? FileManager.default.removeItem(atPath: socket)
    }
}
