import Foundation
import LabvisorProtocol
import Testing

@testable import LabvisorServer

/// A `StreamOutput` that records what would be written, behind a real `WritabilityGate`.
final class RecordingStreamOutput: StreamOutput {
    enum Written: Sendable {
        case frame(StreamFrameNotification.Params, bytes: Int)
        case message(StreamEndedNotification.Params)
    }

    let gate = WritabilityGate(connection: "test client")
    let written: AsyncStream<Written>
    private let continuation: AsyncStream<Written>.Continuation

    init() {
        (written, continuation) = AsyncStream.makeStream()
    }

    func waitUntilWritable() async throws { try await gate.waitUntilWritable() }

    func writeBinary(header: [UInt8], payload: OutgoingFrame) {
        let params = try! JSONDecoder().decode(RPCRequest<StreamFrameNotification.Params>.self, from: Data(header)).params
        continuation.yield(.frame(params, bytes: payload.frame.bytes.count))
    }

    func writeMessage(_ message: [UInt8]) {
        let params = try! JSONDecoder().decode(RPCRequest<StreamEndedNotification.Params>.self, from: Data(message)).params
        continuation.yield(.message(params))
    }
}

/// Takes the next written item, within 10 s.
func nextWritten(_ iterator: inout AsyncStream<RecordingStreamOutput.Written>.Iterator) async throws -> RecordingStreamOutput.Written {
    let deadline = Task {
        try await Task.sleep(for: .seconds(10))
        Issue.record("nothing written within 10 s")
    }
    defer { deadline.cancel() }
    return try #require(await iterator.next())
}

@Suite("StreamSubscriptionTests", .timeLimit(.minutes(1)))
struct StreamSubscriptionTests {
    func frame(_ sequence: UInt64) -> OutgoingFrame {
        OutgoingFrame(DataFrame(sequence: sequence, width: 2, height: 1, format: "GREY", bytes: [1, 2]))
    }

    @Test func aBlockedConnectionKeepsOnlyTheQueueAndTheNextHeaderCountsTheRest() async throws {
        let output = RecordingStreamOutput()
        let finished = LockedState(0)
        let subscription = StreamSubscription(
            id: 5, client: "test client", instrument: "loopback", stream: "frames", queue: 2, output: output
        ) { _ in finished.withLock { $0 += 1 } }
        output.gate.set(writable: false)
        for sequence in UInt64(10)..<20 { subscription.offer(frame(sequence)) }
        subscription.start()
        #expect(subscription.info.queued == 2)
        #expect(subscription.info.dropped == 8, "frames 10...17 are gone, 18 and 19 wait")
        var written = output.written.makeAsyncIterator()
        output.gate.set(writable: true)
        guard case .frame(let first, let bytes) = try await nextWritten(&written) else { throw LabvisorError(.driverFault, "not a frame") }
        #expect(first.sequence == 18 && first.dropped == 8 && bytes == 2 && first.bytesPerPixel == 1 && first.stride == 2)
        guard case .frame(let second, _) = try await nextWritten(&written) else { throw LabvisorError(.driverFault, "not a frame") }
        #expect(second.sequence == 19 && second.dropped == 0)
        subscription.offer(frame(22))
        guard case .frame(let third, _) = try await nextWritten(&written) else { throw LabvisorError(.driverFault, "not a frame") }
        #expect(third.sequence == 22 && third.dropped == 2, "a gap upstream counts too")
        #expect(subscription.info.delivered == 3 && subscription.info.dropped == 10)
        subscription.end(.failed(LabvisorError(.deviceGone, "unplugged")))
        guard case .message(let ended) = try await nextWritten(&written) else { throw LabvisorError(.driverFault, "not a message") }
        #expect(ended.reason == "failed" && ended.error?.data.labvisorCode == .deviceGone && ended.dropped == 10)
        let deadline = ContinuousClock.now + .seconds(10)
        while finished.withLock({ $0 }) == 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        #expect(finished.withLock { $0 } == 1, "the writer ended and detached once")
    }

    @Test func closeDiscardsQueuedFramesAndDisconnectSendsNothing() async throws {
        let output = RecordingStreamOutput()
        let closing = StreamSubscription(id: 1, client: "c", instrument: "i", stream: "s", queue: 4, output: output) { _ in }
        output.gate.set(writable: false)
        closing.offer(frame(0))
        closing.start()
        closing.end(.closed)
        var written = output.written.makeAsyncIterator()
        output.gate.set(writable: true)
        guard case .message(let ended) = try await nextWritten(&written) else { throw LabvisorError(.driverFault, "a frame was written after close") }
        #expect(ended.reason == "closed" && ended.subscription == 1)

        let finished = LockedState(false)
        let dropped = StreamSubscription(id: 2, client: "c", instrument: "i", stream: "s", queue: 4, output: output) { _ in
            finished.withLock { $0 = true }
        }
        dropped.start()
        dropped.end(.disconnected)
        output.gate.close()
        let deadline = ContinuousClock.now + .seconds(10)
        while !finished.withLock({ $0 }), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        #expect(finished.withLock { $0 }, "the writer ended")
        dropped.offer(frame(1))
        #expect(dropped.info.queued == 0, "an ended subscription takes no frames")
    }

    @Test func aFailedDriverStreamEndsItsSubscriptionsWithTheError() async throws {
        let source = FrameStream(name: "frames", capacity: 4)
        let fanout = FrameFanout(source: source)
        let output = RecordingStreamOutput()
        let subscription = StreamSubscription(id: 9, client: "c", instrument: "camera-1", stream: "frames", queue: 4, output: output) {
            fanout.detach($0.id)
        }
        try fanout.attach(subscription)
        subscription.start()
        var written = output.written.makeAsyncIterator()
        source.publish(DataFrame(width: 2, height: 1, format: "GREY", bytes: [0, 1]))
        guard case .frame(let first, _) = try await nextWritten(&written) else { throw LabvisorError(.driverFault, "not a frame") }
        #expect(first.sequence == 0 && first.dropped == 0)
        source.finish(error: LabvisorError(.deviceGone, "camera-1 was unplugged"))
        guard case .message(let ended) = try await nextWritten(&written) else { throw LabvisorError(.driverFault, "not a message") }
        #expect(ended.reason == "failed" && ended.error?.data.labvisorCode == .deviceGone && ended.subscription == 9)
        #expect(fanout.hasEnded)
        let late = StreamSubscription(id: 10, client: "c", instrument: "camera-1", stream: "frames", queue: 4, output: output) { _ in }
        #expect(throws: LabvisorError.self) { try fanout.attach(late) }
    }
}
