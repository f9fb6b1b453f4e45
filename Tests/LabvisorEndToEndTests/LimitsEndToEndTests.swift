import Foundation
import LabvisorClient
import LabvisorHardware
import Testing

/// The wire's limits (`max_clients`, `calls_in_flight`, `max_message_size`) through the real
/// daemon, each answered with `resourceExhausted` naming the limit; and hostile clients
/// (garbage, half frames, streams never read) that must not hold up a well-behaved one.
///
/// Timing checks only tell "at once" from "stalled": the bounds are seconds, not
/// microseconds (CI runs this under ThreadSanitizer on a loaded machine).
@Suite("LimitsEndToEndTests", .timeLimit(.minutes(3)))
struct LimitsEndToEndTests {
    let loopback = "loopback"

    /// Waits (at most 10 s) until the daemon counts `count` connected clients.
    func waitForClients(_ count: Int, asking client: Labvisor) async throws {
        var clients = try await client.status().clients
        let deadline = ContinuousClock.now + .seconds(10)
        while clients != count, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
            clients = try await client.status().clients
        }
        #expect(clients == count, "connected clients")
    }

    /// The `resourceExhausted` refusal's limit name and value, or `nil` when `message` is
    /// something else.
    func refusal(_ message: JSONValue?) -> (limit: String, value: Int)? {
        guard let data = message?["error"]?["data"], data["labvisorCode"] == "resourceExhausted",
            let limit = data["fields"]?["limit"]?.string, let value = data["fields"]?["value"]?.number.map({ Int($0) })
        else { return nil }
        return (limit, value)
    }

    @Test func aClientOverMaxClientsIsRefusedAndClosed() async throws {
        let daemon = try await DaemonProcess(loopback: true, configuration: "[daemon]\nmax_clients = 3\n")
        let first = try await daemon.connect()
        try await waitForClients(1, asking: first)
        let second = try await daemon.connect()
        let third = try await daemon.connect()
        try await waitForClients(3, asking: first)
        #expect(try await first.status().maxClients == 3)

        let refused = try RawWireSocket(path: daemon.socketPath)
        let answer = try await refused.readMessage()
        #expect(answer?["id"] == .null)
        let limit = try #require(refusal(answer), "\(answer.map { "\($0)" } ?? "no answer")")
        #expect(limit.limit == "connected clients" && limit.value == 3)
        #expect(try await refused.readFrame() == nil, "the daemon closes the refused connection")

        // The connected clients are unaffected, and a freed seat takes a new client.
        #expect(try await second.invoke(loopback, "echo", ["value": 1], timeout: .seconds(10)) == 1)
        await third.close()
        try await waitForClients(2, asking: first)
        let fourth = try await daemon.connect()
        #expect(try await fourth.invoke(loopback, "echo", ["value": 4], timeout: .seconds(10)) == 4)
        for client in [first, second, fourth] { await client.close() }
        #expect(try await daemon.stop() == 0, "\(daemon.logText)")
    }

    @Test func callsOverCallsInFlightAreRefusedAtOnce() async throws {
        let daemon = try await DaemonProcess(loopback: true, configuration: "[daemon]\ncalls_in_flight = 2\n")
        let other = try await daemon.connect()
        let busy = try RawWireSocket(path: daemon.socketPath)
        busy.request(id: 1, "leases.acquire", params: #"{"instruments": ["loopback"]}"#)
        let granted = try await busy.readMessage()
        #expect(granted?["result"]?["lease"] != nil, "\(granted.map { "\($0)" } ?? "no answer")")

        // Four calls in one write: two sleeps take the two places, the two echoes over the
        // limit are refused at once, so their answers come before the sleeps end.
        let sleep = #"{"instrument": "loopback", "method": "sleep", "arguments": {"seconds": 2}}"#
        let echo = #"{"instrument": "loopback", "method": "echo", "arguments": {"value": 5}}"#
        var batch: [UInt8] = []
        for (id, params) in [(10, sleep), (11, sleep), (12, echo), (13, echo)] {
            let body = Array(#"{"jsonrpc": "2.0", "id": \#(id), "method": "instrument.invoke", "params": \#(params)}"#.utf8)
            batch += Framing.lengthPrefix(body.count) + body
        }
        #expect(busy.send(batch))
        var answers: [JSONValue] = []
        for _ in 0..<2 { answers.append(try #require(try await busy.readMessage())) }
        #expect(Set(answers.compactMap { $0["id"]?.number.map { Int($0) } }) == [12, 13], "the refusals come first: \(answers)")
        for answer in answers {
            let limit = refusal(answer)
            #expect(limit?.limit == "calls in flight per client" && limit?.value == 2, "\(answer)")
        }
        // Another client's calls are not limited by this one's.
        #expect(try await other.invoke(loopback, "echo", ["value": 6], timeout: .seconds(10)) == 6)
        answers = []
        for _ in 0..<2 { answers.append(try #require(try await busy.readMessage())) }
        #expect(Set(answers.compactMap { $0["id"]?.number.map { Int($0) } }) == [10, 11])
        #expect(answers.allSatisfy { $0["error"] == nil }, "\(answers)")
        // Places are free again.
        busy.request(id: 14, "instrument.invoke", params: echo)
        #expect(try await busy.readMessage()?["result"]?["value"] == 5)
        await other.close()
        #expect(try await daemon.stop() == 0, "\(daemon.logText)")
    }

    @Test func anOversizeMessageIsRefusedAndItsConnectionClosed() async throws {
        let daemon = try await DaemonProcess(loopback: true, configuration: "[daemon]\nmax_message_size = 4096\n")
        let sender = try await daemon.connect()
        let other = try await daemon.connect()
        let under = String(repeating: "a", count: 3000)
        #expect(try await sender.invoke(loopback, "echo", ["value": .string(under)], timeout: .seconds(10)) == .string(under))

        let over = String(repeating: "b", count: 5000)
        let refused = await #expect(throws: LabvisorError.self) {
            _ = try await sender.invoke(self.loopback, "echo", ["value": .string(over)], timeout: .seconds(10))
        }
        #expect(refused?.code == .resourceExhausted, "\(refused.map { "\($0)" } ?? "")")
        #expect(refused?.fields["limit"] == "message size in bytes")
        #expect(refused?.fields["value"] == 4096)
        let after = await #expect(throws: LabvisorError.self) { _ = try await sender.status() }
        #expect(after?.code == .resourceExhausted, "the connection is closed; later calls say why")

        // Refused as soon as the length prefix announces too much: the body is never awaited.
        let raw = try RawWireSocket(path: daemon.socketPath)
        #expect(raw.send(Framing.lengthPrefix(1 << 30)))
        let answer = try await raw.readMessage()
        #expect(refusal(answer)?.limit == "message size in bytes", "\(answer.map { "\($0)" } ?? "no answer")")
        #expect(try await raw.readFrame() == nil)

        #expect(try await other.invoke(loopback, "echo", ["value": .string(under)], timeout: .seconds(10)) == .string(under))
        await sender.close()
        await other.close()
        #expect(try await daemon.stop() == 0, "\(daemon.logText)")
    }

    /// One round of hostile connections: random bytes, a huge length prefix, a frame that is
    /// not JSON, broken JSON, and half a frame followed by silence (kept open in `silent`).
    static func hostileRound(_ path: String, silent: inout [RawWireSocket]) {
        var random = SystemRandomNumberGenerator()
        guard let noise = try? RawWireSocket(path: path) else { return }
        noise.send((0..<Int.random(in: 1...4096, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) })
        if let huge = try? RawWireSocket(path: path) { huge.send([0x7F, 0xFF, 0xFF, 0xFF, 0x7B, 0x22]) }
        if let text = try? RawWireSocket(path: path) { text.send(Framing.lengthPrefix(5) + Array("hello".utf8)) }
        if let broken = try? RawWireSocket(path: path) {
            let body = Array(#"{"jsonrpc": "2.0", "id": 1, "method": "#.utf8)
            broken.send(Framing.lengthPrefix(body.count) + body)
        }
        if let half = try? RawWireSocket(path: path) {
            half.send(Framing.lengthPrefix(100) + Array(repeating: UInt8(ascii: "{"), count: 50))
            silent.append(half)
        }
    }

    @Test func garbageAndHalfFramesDoNotDelayAWellBehavedClient() async throws {
        let daemon = try await DaemonProcess(loopback: true, configuration: "[daemon]\nmax_clients = 200\n")
        let good = try await daemon.connect()
        for _ in 0..<20 { _ = try await good.invoke(loopback, "echo", ["value": 1], timeout: .seconds(10)) }

        // Hostile connections on a thread of their own, for as long as the good client calls.
        let path = daemon.socketPath
        let done = LockedState(false)
        let hostile = Task {
            try await DedicatedThread.run { () -> (rounds: Int, silent: Int) in
                var silent: [RawWireSocket] = []
                var rounds = 0
                while !done.withLock({ $0 }) {
                    Self.hostileRound(path, silent: &silent)
                    rounds += 1
                    // Paced (a round every 5 ms, five connections each): hostile bytes, not a
                    // connection flood that would take the 2 cores from everyone.
                    usleep(5_000)
                    // Keep at most 40 silent half frames open (each holds a seat).
                    if silent.count > 40 { silent.removeFirst() }
                }
                return (rounds, silent.count)
            }
        }
        var latencies: [Duration] = []
        var failures: [String] = []
        let end = ContinuousClock.now + .seconds(2)
        var index = 0
        while index < 300 || ContinuousClock.now < end {
            index += 1
            let start = ContinuousClock.now
            do {
                let value = try await good.invoke(loopback, "echo", ["value": .int(index)], timeout: .seconds(10))
                if value != .int(index) { failures.append("call \(index) answered \(value)") }
            } catch {
                failures.append("call \(index): \(error)")
            }
            latencies.append(ContinuousClock.now - start)
        }
        done.withLock { $0 = true }
        let (rounds, silent) = try await hostile.value
        #expect(rounds >= 5, "the hostile connections ran alongside (\(rounds) rounds)")
        #expect(silent > 0)
        #expect(failures.isEmpty, "\(failures.prefix(5))")
        latencies.sort()
        let p50 = latencies[latencies.count / 2]
        let slowest = latencies.last ?? .zero
        #expect(p50 < .milliseconds(250), "p50 \(p50)")
        // A stalled daemon would not answer within the calls' 10 s timeout.
        #expect(slowest < .seconds(5), "slowest call \(slowest)")
        #expect(try await good.status().instruments >= 1)
        await good.close()
        #expect(try await daemon.stop() == 0, "\(daemon.logText)")
    }

    /// The daemon's resident set size (`VmRSS`), in bytes.
    func residentBytes(_ daemon: DaemonProcess) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(daemon.pid)/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") })
        let kilobytes = try #require(Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]))
        return kilobytes * 1024
    }

    @Test func streamsThatAreNeverReadDoNotHoldUpOthers() async throws {
        let daemon = try await DaemonProcess(loopback: true)
        let good = try await daemon.connect()
        let frames = try await good.frames(instrument: loopback, queue: 8)

        // A client that opens four subscriptions and never reads its socket.
        let stuck = try RawWireSocket(path: daemon.socketPath, receiveBuffer: 4096)
        for id in 1...4 { #expect(stuck.request(id: id, "stream.open", params: #"{"instrument": "loopback", "queue": 2}"#)) }
        var status = try await good.streamStatus(instrument: loopback)
        var deadline = ContinuousClock.now + .seconds(10)
        while status.subscriptions.count < 5, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
            status = try await good.streamStatus(instrument: loopback)
        }
        #expect(status.subscriptions.count == 5, "\(status)")
        let before = try residentBytes(daemon)

        // 32 KiB frames at up to 500 fps.
        try await good.invoke(
            loopback, "startFrames", ["width": 128, "height": 128, "format": "Y16", "fps": 500], timeout: .seconds(10))
        var stuckDropped = 0
        deadline = ContinuousClock.now + .seconds(30)
        var received = 0
        var slowest = Duration.zero
        // The good client reads its frames and calls while the stuck one's queues overflow.
        while received < 200 || stuckDropped < 400, ContinuousClock.now < deadline {
            _ = try #require(try await frames.next(timeout: .seconds(5)), "the good client's frames keep coming")
            received += 1
            if received % 20 == 0 {
                let start = ContinuousClock.now
                #expect(try await good.invoke(loopback, "echo", ["value": .int(received)], timeout: .seconds(10)) == .int(received))
                status = try await good.streamStatus(instrument: loopback)
                slowest = max(slowest, ContinuousClock.now - start)
                stuckDropped = status.subscriptions.filter { $0.subscription != frames.id }.map(\.dropped).reduce(0, +)
            }
        }
        #expect(received >= 200)
        #expect(stuckDropped >= 400, "the stuck client's queues drop: \(status)")
        #expect(slowest < .seconds(2), "an echo and a stream.status took \(slowest)")
        for subscription in status.subscriptions { #expect(subscription.queued <= subscription.queue, "\(subscription)") }
        // Bounded memory: queues of 2 frames, not a backlog of everything published.
        let grown = try residentBytes(daemon) - before
        #expect(grown < 64 << 20, "the daemon grew by \(grown / 1024) KiB")
        try await good.invoke(loopback, "stopFrames", timeout: .seconds(10))
        try await frames.close()
        await good.close()
        #expect(try await daemon.stop() == 0, "\(daemon.logText)")
    }
}
