import LabvisorCore
import Testing

/// `FrameStream` and the `SingleReaderBuffer` it keeps (which `USBBulkStream` keeps too:
/// `USBStreamTests` drive that one through libusb).
@Suite struct FrameStreamTests {
    static func frame(_ byte: UInt8) -> DataFrame { DataFrame(width: 1, height: 1, format: "GREY", bytes: [byte]) }

    @Test func framesComeInOrderWithSequenceNumbersAndTheOldestIsDroppedWhenFull() async throws {
        let stream = FrameStream(name: "frames", capacity: 2)
        #expect(stream.publish(Self.frame(1)) == 0)
        #expect(stream.publish(Self.frame(2)) == 1)
        #expect(stream.publish(Self.frame(3)) == 2)
        #expect(stream.dropped == 1 && stream.buffered == 2 && stream.published == 3)
        let first = try await stream.next(timeout: .seconds(1))
        let second = try await stream.next(timeout: .seconds(1))
        #expect(first?.bytes == [2] && first?.sequence == 1)
        #expect(second?.bytes == [3] && second?.sequence == 2)
    }

    @Test func aWaitingReaderIsWokenByAFrameAndByTheEnd() async throws {
        let stream = FrameStream(name: "frames")
        async let frame = stream.next(timeout: .seconds(5))
        try await Task.sleep(for: .milliseconds(50))
        stream.publish(Self.frame(7))
        #expect(try await frame?.bytes == [7])
        async let end = stream.next(timeout: .seconds(5))
        try await Task.sleep(for: .milliseconds(50))
        stream.finish()
        #expect(try await end == nil)
        #expect(stream.publish(Self.frame(8)) == nil, "a finished stream takes no frames")
    }

    @Test func theReaderGetsTheFramesKeptThenTheErrorOnceThenNil() async throws {
        let stream = FrameStream(name: "frames")
        stream.publish(Self.frame(1))
        stream.finish(error: LabvisorError(.deviceGone, "unplugged"))
        stream.finish(error: LabvisorError(.closed, "second finish does not count"))
        #expect(try await stream.next(timeout: .seconds(1))?.bytes == [1])
        do {
            _ = try await stream.next(timeout: .seconds(1))
            Issue.record("the read after the frames did not fail")
        } catch {
            #expect(error.code == .deviceGone)
        }
        #expect(try await stream.next(timeout: .seconds(1)) == nil)
        #expect(stream.isFinished)
    }

    @Test func aWaitingReaderGetsTheErrorTheStreamEndsWith() async throws {
        let stream = FrameStream(name: "frames")
        async let read = stream.next(timeout: .seconds(5))
        try await Task.sleep(for: .milliseconds(50))
        stream.finish(error: LabvisorError(.deviceGone, "unplugged"))
        do {
            _ = try await read
            Issue.record("the read did not fail")
        } catch let error as LabvisorError {
            #expect(error.code == .deviceGone)
        }
        #expect(try await stream.next(timeout: .seconds(1)) == nil, "the error is given once")
    }

    @Test func aReadTimesOutNamingTheStreamAndTheStreamStillWorksAfter() async throws {
        let stream = FrameStream(name: "frames-42")
        let start = ContinuousClock.now
        do {
            _ = try await stream.next(timeout: .milliseconds(100))
            Issue.record("the read did not time out")
        } catch {
            #expect(error.code == .timeout)
            #expect(error.description.contains("frames-42"))
            #expect(error.fields["stream"] == .string("frames-42"))
        }
        #expect(ContinuousClock.now - start < .seconds(2))
        stream.publish(Self.frame(9))
        #expect(try await stream.next(timeout: .seconds(1))?.bytes == [9])
    }

    @Test func cancellingTheReaderEndsItsReadWithCancelled() async throws {
        let stream = FrameStream(name: "frames")
        let reader = Task { try await stream.next() }
        try await Task.sleep(for: .milliseconds(50))
        reader.cancel()
        do {
            _ = try await reader.value
            Issue.record("the read was not cancelled")
        } catch let error as LabvisorError {
            #expect(error.fields["cancelled"] == true && error.description.contains("reading frame stream frames"))
        }
        stream.publish(Self.frame(3))
        #expect(try await stream.next(timeout: .seconds(1))?.bytes == [3], "a cancelled reader leaves the stream usable")
    }
}
