import Foundation
import LabvisorClient
import Testing

/// Data streams through the real daemon (`--loopback`: its synthetic frame stream) to the
/// real Swift client: byte-exact frames, backpressure with counted drops, ends and limits.
@Suite("StreamEndToEndTests", .timeLimit(.minutes(2)))
struct StreamEndToEndTests {
    let loopback = "loopback"

    /// Starts the loopback's test pattern.
    func start(_ client: Labvisor, width: Int, height: Int, format: String, fps: Double, count: Int = 0) async throws {
        try await client.invoke(
            loopback, "startFrames", ["width": .int(width), "height": .int(height), "format": .string(format), "fps": .double(fps), "count": .int(count)],
            timeout: .seconds(10))
    }

    @Test(arguments: [("Y16", 64, 48), ("GREY", 61, 17), ("YUY2", 32, 24)])
    func framesArriveByteExactWithConsecutiveSequenceNumbers(format: String, width: Int, height: Int) async throws {
        let daemon = try await DaemonProcess(loopback: true)
        let client = try await daemon.connect()
        let frames = try await client.frames(instrument: loopback, queue: 8)
        #expect(frames.opened.stream == "frames")
        try await start(client, width: width, height: height, format: format, fps: 40, count: 12)
        let pattern = try SyntheticFramePattern(width: width, height: height, format: format)
        var sequences: [UInt64] = []
        for _ in 0..<12 {
            let frame = try #require(try await frames.next(timeout: .seconds(10)))
            #expect(frame.width == width && frame.height == height && frame.format == format)
            #expect(frame.header.bytesPerPixel == pattern.bytesPerPixel && frame.header.stride == width * pattern.bytesPerPixel)
            #expect(frame.dropped == 0)
            #expect(frame.bytes.count == pattern.frameSize)
            #expect(pattern.matches(frame.bytes, sequence: frame.sequence), "frame \(frame.sequence) differs from the pattern")
            sequences.append(frame.sequence)
        }
        #expect(sequences == Array(sequences[0]..<(sequences[0] + 12)))
        try await frames.close()
        await client.close()
        #expect(try await daemon.stop() == 0, "\(daemon.logText)")
    }

    @Test func aClientThatDoesNotReadGetsDropsCountedAndOthersAreUnaffected() async throws {
        let daemon = try await DaemonProcess(loopback: true)
        let slow = try await daemon.connect()
        let other = try await daemon.connect()
        let frames = try await slow.frames(instrument: loopback, queue: 2)
        try await start(other, width: 256, height: 256, format: "Y16", fps: 400)
        // The slow client reads nothing: its queues fill, the socket stops taking data, and
        // the daemon drops the oldest frames of its queue, counting them.
        var status = try await other.streamStatus(instrument: loopback)
        let deadline = ContinuousClock.now + .seconds(20)
        while (status.subscriptions.first?.dropped ?? 0) < 50, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
            status = try await other.streamStatus(instrument: loopback)
        }
        let info = try #require(status.subscriptions.first { $0.subscription == frames.id })
        #expect(info.dropped >= 50, "\(info)")
        #expect(info.queued <= info.queue, "the daemon keeps at most the queue: \(info)")
        // The other client's calls still answer (within seconds even under ThreadSanitizer on a
        // loaded machine; a daemon held up by the slow client would not answer at all).
        let callStart = ContinuousClock.now
        #expect(try await other.invoke(loopback, "echo", ["value": 7], timeout: .seconds(20)) == 7)
        #expect(ContinuousClock.now - callStart < .seconds(5))
        // Reading now: the gaps in the sequence numbers are exactly the drops reported.
        var previous: UInt64?
        var sawDrop = false
        for _ in 0..<20 {
            let frame = try #require(try await frames.next(timeout: .seconds(10)))
            if let previous {
                #expect(frame.sequence - previous - 1 == UInt64(frame.dropped), "frame \(frame.sequence) after \(previous)")
            }
            sawDrop = sawDrop || frame.dropped > 0
            previous = frame.sequence
        }
        #expect(sawDrop)
        try await other.invoke(loopback, "stopFrames", timeout: .seconds(10))
        try await frames.close()
        await slow.close()
        await other.close()
        #expect(try await daemon.stop() == 0, "\(daemon.logText)")
    }

    @Test func closeAndDisconnectEndTheSubscription() async throws {
        let daemon = try await DaemonProcess(loopback: true)
        let client = try await daemon.connect()
        let watcher = try await daemon.connect()
        let closing = try await client.frames(instrument: loopback)
        try await start(client, width: 32, height: 32, format: "GREY", fps: 100)
        #expect(try await closing.next(timeout: .seconds(10)) != nil)
        try await closing.close()
        #expect(try await closing.next(timeout: .seconds(5)) == nil, "a closed subscription yields no more frames")
        #expect(try await watcher.streamStatus().subscriptions.map(\.subscription).contains(closing.id) == false)
        let unknown = await #expect(throws: LabvisorError.self) {
            _ = try await client.connection.call(CloseStream.self, .init(subscription: closing.id), timeout: .seconds(5))
        }
        #expect(unknown?.code == .notFound)

        let dropped = try await client.frames(instrument: loopback)
        #expect(try await dropped.next(timeout: .seconds(10)) != nil)
        #expect(try await watcher.streamStatus().subscriptions.map(\.subscription) == [dropped.id])
        await client.close()
        var remaining = try await watcher.streamStatus().subscriptions
        let deadline = ContinuousClock.now + .seconds(10)
        while !remaining.isEmpty, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
            remaining = try await watcher.streamStatus().subscriptions
        }
        #expect(remaining.isEmpty, "a disconnect ends its subscriptions: \(remaining)")
        // Frames already queued in the client come first, then the connection's end.
        let ended = await #expect(throws: LabvisorError.self) { while try await dropped.next(timeout: .seconds(5)) != nil {} }
        #expect(ended?.code == .unavailable)
        try await watcher.invoke(loopback, "stopFrames", timeout: .seconds(10))
        await watcher.close()
        #expect(try await daemon.stop() == 0, "\(daemon.logText)")
    }

    @Test func theDemoCameraStreamsThroughTheInProcessUSBSimulator() async throws {
        let daemon = try await DaemonProcess()
        let client = try await daemon.connect()
        let status = try await client.status()
        #expect(status.simulations?["camera-1"]?.contains("in-process USB simulator") == true, "\(status)")
        #expect(status.simulations?["stage-x"]?.contains("PTY") == true)
        let lease = try await client.acquire(["camera-1"])
        let frames = try await client.frames(instrument: "camera-1")
        try await client.invoke("camera-1", "startStreaming", ["format": "GREY", "width": 640, "height": 480], timeout: .seconds(10))
        var previous: UInt64?
        for _ in 0..<3 {
            let frame = try #require(try await frames.next(timeout: .seconds(10)))
            #expect(frame.width == 640 && frame.height == 480 && frame.format == "GREY" && frame.bytes.count == 640 * 480)
            #expect(frame.header.bytesPerPixel == 1 && frame.header.deviceTime != nil)
            if let previous { #expect(frame.sequence - previous - 1 == UInt64(frame.dropped)) }
            previous = frame.sequence
        }
        try await client.invoke("camera-1", "stopStreaming", timeout: .seconds(10))
        try await frames.close()
        try await client.release(lease)
        await client.close()
        #expect(try await daemon.stop() == 0, "\(daemon.logText)")
    }

    @Test func streamsPerClientAreLimitedAndUnknownStreamsNamed() async throws {
        let daemon = try await DaemonProcess(loopback: true)
        let client = try await daemon.connect()
        var open: [FrameSubscription] = []
        for _ in 0..<8 { open.append(try await client.frames(instrument: loopback)) }
        let refused = await #expect(throws: LabvisorError.self) { _ = try await client.frames(instrument: self.loopback) }
        #expect(refused?.code == .resourceExhausted)
        #expect(refused?.fields["limit"] == "streams per client")
        #expect(try await client.streamStatus().maxPerClient == 8)
        try await open.removeLast().close()
        open.append(try await client.frames(instrument: loopback))
        let unknown = await #expect(throws: LabvisorError.self) { _ = try await client.frames(instrument: self.loopback, stream: "depth") }
        #expect(unknown?.code == .notFound)
        #expect(unknown?.message.contains("streams: frames") == true, "\(unknown?.message ?? "")")
        let badQueue = await #expect(throws: LabvisorError.self) { _ = try await client.frames(instrument: self.loopback, queue: 0) }
        #expect(badQueue?.fields["argument"] == "queue")
        for subscription in open { try await subscription.close() }
        await client.close()
        #expect(try await daemon.stop() == 0, "\(daemon.logText)")
    }
}

extension CommandLineEndToEndTests {
    @Test func framesAreSavedAsPGM() async throws {
        let daemon = try await DaemonProcess(loopback: true)
        let client = try await daemon.connect()
        let folder = daemon.folder.appendingPathComponent("shots")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for (format, maxValue) in [("Y16", 65535), ("YUY2", 255)] {
            try await client.invoke(
                "loopback", "startFrames", ["width": 16, "height": 8, "format": .string(format), "fps": 50], timeout: .seconds(10))
            let out = folder.appendingPathComponent("\(format).pgm").path
            let run = try await labvisor(["frames", "loopback", "--count", "3", "--out", out], daemon: daemon)
            #expect(run.status == 0, "\(run.errors)")
            let lines = run.output.split(separator: "\n").map(String.init)
            #expect(lines.count == 6, "\(run.output)")
            let pattern = try SyntheticFramePattern(width: 16, height: 8, format: format)
            for index in 1...3 {
                let path = folder.appendingPathComponent("\(format)-000\(index).pgm").path
                #expect(lines[2 * index - 1] == path)
                let sequence = try #require(UInt64(lines[2 * index - 2].split(separator: "\t").first ?? ""))
                let data = try #require(FileManager.default.contents(atPath: path))
                let head = Array("P5\n16 8\n\(maxValue)\n".utf8)
                #expect(Array(data.prefix(head.count)) == head)
                let pixels = Array(data.dropFirst(head.count))
                let expected: [UInt8] = (0..<8).flatMap { y in
                    (0..<16).flatMap { x -> [UInt8] in
                        if format == "Y16" {
                            let value = pattern.sample(x: x, y: y, sequence: sequence)
                            return [UInt8(value >> 8), UInt8(value & 0xFF)]
                        }
                        return [UInt8(pattern.sample(x: 2 * x, y: y, sequence: sequence))]  // luma: the even bytes
                    }
                }
                #expect(pixels == expected, "\(format) frame \(sequence)")
            }
        }
        try await client.invoke("loopback", "stopFrames", timeout: .seconds(10))
        await client.close()
        #expect(try await daemon.stop() == 0, "\(daemon.logText)")
    }
}
