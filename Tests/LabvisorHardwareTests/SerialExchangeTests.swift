import Glibc
import LabvisorCore
import LabvisorHardware
import Testing

@Suite struct SerialExchangeTests {

    @Test func requestsGetTheirAnswers() async throws {
        try await withPortOnPTY(settings: SerialSettings(baudRate: 115_200)) { port, pty in
            let device = pty.serveLines { line in "echo:\(line)\r\n" }
            defer { device.cancel() }
            let exchange = SerialExchange(port: port, decoder: LineFrameDecoder())
            for index in 0..<20 {
                let reply = try await exchange.request(Array("ping \(index)\n".utf8), timeout: .seconds(5))
                #expect(reply == "echo:ping \(index)")
            }
        }
    }

    @Test func requestsFromATaskOnTheReactorThread() async throws {
        try await withReactor { reactor in
            let pty = try PseudoTerminal(reactor: reactor)
            defer { pty.close() }
            let port = try SerialPort.open(pty.path, reactor: reactor)
            defer { port.close() }
            let device = pty.serveLines { line in "echo:\(line)\n" }
            defer { device.cancel() }
            let exchange = SerialExchange(port: port, decoder: LineFrameDecoder())
            #expect(port.reactor === reactor)
            try await exchange.withReactorAffinity {
                for index in 0..<20 {
                    let reply = try await exchange.request(Array("ping \(index)\n".utf8), timeout: .seconds(5))
                    #expect(reply == "echo:ping \(index)")
                    // Resumed on the reactor's own thread.
                    #expect(currentThreadName() == "test.io")
                }
            }
        }
    }

    /// The round-trip path as drivers run it (on the reactor thread, reads skipped while the
    /// port is known empty, deadlines on the registration's shared timer): a reply in pieces,
    /// garbage, a reply that never comes and an unplug end as they do elsewhere.
    @Test func onTheReactorThreadPiecesGarbageTimeoutsAndUnplugEndAsElsewhere() async throws {
        try await withPortOnPTY { port, pty in
            let exchange = SerialExchange(port: port, decoder: LineFrameDecoder(maxLength: 32))
            let device = Task {
                // In pieces.
                #expect(try await pty.readLine() == "pieces")
                for piece in ["@01 0 O", "K IDLE -", "- 0\r", "\n"] {
                    try await pty.write(piece)
                    try await Task.sleep(for: .milliseconds(5))
                }
                // Garbage: a line longer than the decoder takes.
                #expect(try await pty.readLine() == "noise")
                try await pty.write(String(repeating: "#", count: 100) + "\n")
                // No reply at all, then a normal one.
                #expect(try await pty.readLine() == "silence")
                #expect(try await pty.readLine() == "clean")
                try await pty.write("ok:clean\n")
                // Unplugged during the last request.
                #expect(try await pty.readLine() == "last")
                pty.unplug()
            }
            defer { device.cancel() }
            try await exchange.withReactorAffinity {
                let pieces = try await exchange.request(Array("pieces\n".utf8), timeout: .seconds(20))
                #expect(pieces == "@01 0 OK IDLE -- 0")
                let garbage = await labvisorError { _ = try await exchange.request(Array("noise\n".utf8), timeout: .seconds(20)) }
                #expect(garbage?.code == .driverFault)
                #expect(garbage?.fields["reason"] == "frameTooLong")
                let start = ContinuousClock.now
                let silence = await labvisorError {
                    _ = try await exchange.request(Array("silence\n".utf8), timeout: .milliseconds(80))
                }
                #expect(silence?.code == .timeout)
                #expect(ContinuousClock.now - start >= .milliseconds(75))
                let clean = try await exchange.request(Array("clean\n".utf8), timeout: .seconds(20))
                #expect(clean == "ok:clean")
                let gone = await labvisorError { _ = try await exchange.request(Array("last\n".utf8), timeout: .seconds(20)) }
                #expect(gone?.code == .deviceGone)
            }
            try await device.value
        }
    }

    @Test func concurrentRequestsTakeTurns() async throws {
        try await withPortOnPTY { port, pty in
            let device = pty.serveLines { line in
                try? await Task.sleep(for: .milliseconds(2))
                return "echo:\(line)\n"
            }
            defer { device.cancel() }
            let exchange = SerialExchange(port: port, decoder: LineFrameDecoder())
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<8 {
                    group.addTask {
                        let reply = try await exchange.request(Array("r\(index)\n".utf8), timeout: .seconds(5))
                        #expect(reply == "echo:r\(index)")
                    }
                }
                try await group.waitForAll()
            }
        }
    }

    @Test func aReplyInPiecesIsReassembled() async throws {
        try await withPortOnPTY { port, pty in
            let device = Task {
                _ = try await pty.readLine()
                for piece in ["@01 0 O", "K IDLE -", "- 0\r", "\n"] {
                    try await pty.write(piece)
                    try await Task.sleep(for: .milliseconds(10))
                }
            }
            defer { device.cancel() }
            let exchange = SerialExchange(port: port, decoder: LineFrameDecoder())
            let reply = try await exchange.request(Array("/1 get pos\n".utf8), timeout: .seconds(5))
            #expect(reply == "@01 0 OK IDLE -- 0")
            try await device.value
        }
    }

    @Test func garbageFailsTheRequestAndTheNextOneWorks() async throws {
        try await withPortOnPTY { port, pty in
            let device = pty.serveLines { line in
                line == "noise" ? String(repeating: "#", count: 200) : "ok:\(line)\n"
            }
            defer { device.cancel() }
            let exchange = SerialExchange(port: port, decoder: LineFrameDecoder(maxLength: 32))
            let error = await labvisorError { _ = try await exchange.request(Array("noise\n".utf8), timeout: .seconds(5)) }
            #expect(error?.code == .driverFault)
            #expect(error?.fields["reason"] == "frameTooLong")
            let reply = try await exchange.request(Array("clean\n".utf8), timeout: .seconds(5))
            #expect(reply == "ok:clean")
        }
    }

    @Test func garbageWithoutEndTimesOutInsteadOfHanging() async throws {
        try await withPortOnPTY { port, pty in
            let (written, writtenSignal) = AsyncStream<Void>.makeStream()
            let device = Task {
                #expect(try await pty.readLine() == "half")
                try await pty.write("no terminator")
                writtenSignal.yield()
                #expect(try await pty.readLine() == "next")
                try await pty.write("ok:next\n")
            }
            defer { device.cancel() }
            let exchange = SerialExchange(port: port, decoder: LineFrameDecoder())
            let error = await labvisorError { _ = try await exchange.request(Array("half\n".utf8), timeout: .milliseconds(100)) }
            #expect(error?.code == .timeout)
            #expect(error?.message.contains(port.path) == true)
            // Whenever the partial line arrived, it is gone before the next request.
            for await _ in written { break }
            try await Task.sleep(for: .milliseconds(50))
            // The partial line was dropped: it does not prefix the next answer.
            let reply = try await exchange.request(Array("next\n".utf8), timeout: .seconds(5))
            #expect(reply == "ok:next")
            try await device.value
        }
    }

    @Test func aLateReplyToATimedOutRequestIsNotTakenForTheNextAnswer() async throws {
        try await withPortOnPTY { port, pty in
            let (timedOut, timedOutSignal) = AsyncStream<Void>.makeStream()
            let (answered, answeredSignal) = AsyncStream<Void>.makeStream()
            let device = Task {
                #expect(try await pty.readLine() == "slow")
                // Answer only after the request gave up.
                for await _ in timedOut { break }
                try await pty.write("reply:slow\n")
                answeredSignal.yield()
                #expect(try await pty.readLine() == "fast")
                try await pty.write("reply:fast\n")
            }
            defer { device.cancel() }
            let exchange = SerialExchange(port: port, decoder: LineFrameDecoder())
            let error = await labvisorError { _ = try await exchange.request(Array("slow\n".utf8), timeout: .milliseconds(50)) }
            #expect(error?.code == .timeout)
            timedOutSignal.yield()
            for await _ in answered { break }
            // Let the late reply reach the port before the next request.
            try await Task.sleep(for: .milliseconds(50))
            let reply = try await exchange.request(Array("fast\n".utf8), timeout: .seconds(5))
            #expect(reply == "reply:fast")
            try await device.value
        }
    }

    @Test func aLateReplyDuringTheNextRequestIsSetAsideByTheMatcher() async throws {
        try await withPortOnPTY { port, pty in
            let device = Task {
                #expect(try await pty.readLine() == "slow")
                // The late reply comes once the next request has been written.
                #expect(try await pty.readLine() == "fast")
                try await pty.write("slow:done\nfast:done\n")
            }
            defer { device.cancel() }
            // Replies echo their command: a reply answers the request it names.
            let exchange = SerialExchange(port: port, decoder: LineFrameDecoder()) { request, frame in
                frame.hasPrefix(String(decoding: request.dropLast(), as: UTF8.self) + ":")
            }
            let error = await labvisorError { _ = try await exchange.request(Array("slow\n".utf8), timeout: .milliseconds(50)) }
            #expect(error?.code == .timeout)
            let reply = try await exchange.request(Array("fast\n".utf8), timeout: .seconds(5))
            #expect(reply == "fast:done")
            let late = try await exchange.nextUnsolicited(timeout: .seconds(1))
            #expect(late == "slow:done")
            try await device.value
        }
    }

    @Test func unsolicitedAPTMessagesAreSetAside() async throws {
        try await withPortOnPTY(settings: SerialSettings(baudRate: 115_200, flowControl: .rtsCts)) { port, pty in
            let requestPosition: [UInt8] = [0x11, 0x04, 0x01, 0x00, 0x50, 0x01]  // MGMSG_MOT_REQ_POSCOUNTER
            let position: [UInt8] = [0x12, 0x04, 0x06, 0x00, 0x81, 0x50, 0x01, 0x00, 0x00, 0x08, 0x00, 0x00]
            let moveCompleted: [UInt8] = [0x64, 0x04, 0x0E, 0x00, 0x81, 0x50] + [UInt8](repeating: 0, count: 14)
            let device = Task {
                var request: [UInt8] = []
                while request.count < 6 { request += try await pty.read() }
                #expect(request == requestPosition)
                // A status message first, then the answer, in one write.
                try await pty.write(moveCompleted + position)
                try await Task.sleep(for: .milliseconds(20))
                try await pty.write(moveCompleted)
            }
            defer { device.cancel() }
            // An answer's message id is the request's plus one.
            let exchange = SerialExchange(port: port, decoder: LengthFieldFrameDecoder.thorlabsAPT()) { request, frame in
                frame[0] == request[0] &+ 1 && frame[1] == request[1]
            }
            let reply = try await exchange.request(requestPosition, timeout: .seconds(5))
            #expect(reply == position)
            let kept = try await exchange.nextUnsolicited(timeout: .seconds(1))
            #expect(kept == moveCompleted)
            let readNow = try await exchange.nextUnsolicited(timeout: .seconds(5))
            #expect(readNow == moveCompleted)
            let none = try await exchange.nextUnsolicited(timeout: .milliseconds(30))
            #expect(none == nil)
            try await device.value
        }
    }

    @Test func sendWritesWithoutWaitingForAReplyAndResyncDropsStaleInput() async throws {
        try await withPortOnPTY { port, pty in
            let exchange = SerialExchange(port: port, decoder: LineFrameDecoder())
            try await exchange.send(Array("stop\n".utf8), timeout: .seconds(5))
            #expect(try await pty.readLine() == "stop")
            try await pty.write("stale answer\npartial")
            #expect(pty.waitUntilPortHasInput())
            try exchange.resync()
            let device = Task {
                #expect(try await pty.readLine() == "?")
                try await pty.write("fresh\n")
            }
            defer { device.cancel() }
            let reply = try await exchange.request(Array("?\n".utf8), timeout: .seconds(5))
            #expect(reply == "fresh")
            try await device.value
        }
    }

    @Test func unplugDuringARequestEndsItWithDeviceGone() async throws {
        try await withPortOnPTY { port, pty in
            let exchange = SerialExchange(port: port, decoder: LineFrameDecoder())
            let requester = startOnReactor(pty.reactor) { _ = try await exchange.request(Array("?\n".utf8), timeout: .seconds(10)) }
            _ = try await pty.readLine()
            let start = ContinuousClock.now
            pty.unplug()
            let (error, ended) = await requester.value
            let elapsed = ended - start
            print("serial unplug: request ended with \(error?.code.rawValue ?? "no error") after \(elapsed)")
            #expect(error?.code == .deviceGone)
            #expect(elapsed < .seconds(1))
        }
    }
}

/// The name of the calling thread (`/proc/thread-self/comm`; Glibc's module lacks
/// `pthread_getname_np`).
func currentThreadName() -> String {
    let fd = open("/proc/thread-self/comm", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return "" }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 32)
    let count = read(fd, &buffer, buffer.count)
    guard count > 0 else { return "" }
    return String(decoding: buffer[..<count].prefix { $0 != 0x0A }, as: UTF8.self)
}
