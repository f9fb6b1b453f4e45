import DequeModule
import Foundation
import LabvisorProtocol

/// One client's subscription to an instrument's stream: a bounded queue of frames and the
/// task that writes them to the client.
///
/// The fan-out offers every frame (`offer`); when `queue` frames wait, the oldest is dropped.
/// The writer waits until the connection takes data, then takes the oldest waiting frame, so a
/// slow client costs at most `queue` frames of memory. Each frame's header says how many
/// frames the client missed since its previous one (the gap in `sequence`), so nothing is
/// lost silently.
final class StreamSubscription: Sendable {
    /// How a subscription ends.
    enum End: Sendable {
        /// `stream.close`: queued frames are discarded.
        case closed
        /// The stream finished (driver shut down): queued frames are delivered first.
        case finished
        /// The stream failed (device gone): queued frames are delivered first.
        case failed(LabvisorError)
        /// The connection ended: nothing more is written.
        case disconnected
    }

    private enum Item {
        case frame(OutgoingFrame)
        case end(End)
    }

    private struct State {
        var frames: Deque<OutgoingFrame> = []
        var reader: WaitContinuation<Item, any Error>?
        var end: End?
        var endTaken = false
        var writer: Task<Void, Never>?
        /// Sequence of the last frame written; before the first, one less than the first offered.
        var baseline: UInt64?
        var lastOffered: UInt64?
        var delivered = 0
        var reportedDropped = 0
        var finished = false
    }

    /// The subscription id (unique in the daemon).
    let id: Int
    /// Who holds it.
    let client: String
    /// The instrument.
    let instrument: String
    /// The stream's name.
    let stream: String
    /// Frames kept for the client before the oldest is dropped.
    let queue: Int
    private let output: any StreamOutput
    private let onFinish: @Sendable (StreamSubscription) -> Void
    private let state = LockedState(State())

    /// A subscription writing to `output`; `onFinish` runs once when it has ended (to detach it).
    init(
        id: Int, client: String, instrument: String, stream: String, queue: Int, output: any StreamOutput,
        onFinish: @escaping @Sendable (StreamSubscription) -> Void
    ) {
        self.id = id
        self.client = client
        self.instrument = instrument
        self.stream = stream
        self.queue = queue
        self.output = output
        self.onFinish = onFinish
    }

    /// Starts writing (after the `stream.open` response, so the client knows the id before
    /// the first frame). Frames offered before wait in the queue.
    func start() {
        let task = Task { await self.write() }
        let cancelled = state.withLock { state -> Bool in
            state.writer = task
            if case .disconnected? = state.end { return true }
            return false
        }
        if cancelled { task.cancel() }
    }

    /// Queues `frame`, dropping the oldest waiting frame when the queue is full.
    func offer(_ frame: OutgoingFrame) {
        let reader = state.withLock { state -> WaitContinuation<Item, any Error>? in
            guard state.end == nil else { return nil }
            if state.baseline == nil { state.baseline = frame.frame.sequence &- 1 }
            state.lastOffered = frame.frame.sequence
            if let reader = state.reader {
                state.reader = nil
                return reader
            }
            if state.frames.count >= queue { state.frames.removeFirst() }
            state.frames.append(frame)
            return nil
        }
        reader?.resume(returning: .frame(frame))
    }

    /// Ends the subscription (only the first call counts). The writer sends `stream.ended`
    /// after the frames still queued (none for `closed`), except for `disconnected`.
    func end(_ end: End) {
        let (reader, writer): (WaitContinuation<Item, any Error>?, Task<Void, Never>?) = state.withLock { state in
            guard state.end == nil else { return (nil, nil) }
            state.end = end
            if case .closed = end { state.frames.removeAll() }
            if case .disconnected = end {
                state.frames.removeAll()
                defer { state.reader = nil }
                return (state.reader, state.writer)
            }
            guard let reader = state.reader else { return (nil, nil) }
            state.reader = nil
            state.endTaken = true
            return (reader, nil)
        }
        if case .disconnected = end {
            reader?.resume(throwing: LabvisorError.closed("the connection of \(client)"))
            writer?.cancel()
            if writer == nil { finishOnce() }
            return
        }
        reader?.resume(returning: .end(end))
        // `stream.close` answers only after this returns: detach now, so `stream.status`
        // right after the answer no longer lists it (the writer still sends `stream.ended`).
        if case .closed = end { finishOnce() }
    }

    /// What `stream.status` reports.
    var info: StreamSubscriptionInfo {
        state.withLock { state in
            let pending: Int
            if let baseline = state.baseline, let last = state.lastOffered {
                pending = Int(last &- baseline) - state.frames.count
            } else {
                pending = 0
            }
            return StreamSubscriptionInfo(
                subscription: id, client: client, instrument: instrument, stream: stream, queue: queue,
                queued: state.frames.count, delivered: state.delivered, dropped: state.reportedDropped + max(0, pending))
        }
    }

    private func next() async throws -> Item {
        let state = self.state
        let client = self.client
        return try await suspend(until: nil) { (continuation: WaitContinuation<Item, any Error>) in
            let ready: Result<Item, any Error>? = state.withLock { state in
                switch state.end {
                case .disconnected?: return .failure(LabvisorError.closed("the connection of \(client)"))
                case .closed?: break
                default: if let frame = state.frames.popFirst() { return .success(.frame(frame)) }
                }
                if let end = state.end, !state.endTaken {
                    state.endTaken = true
                    return .success(.end(end))
                }
                state.reader = continuation
                return nil
            }
            if let ready { continuation.resume(with: ready) }
        } expire: { _ in
            state.withLock { state in
                defer { state.reader = nil }
                return state.reader
            }?.resume(throwing: LabvisorError.cancelled("the stream subscription of \(client)"))
        }
    }

    /// Runs `onFinish` the first time only.
    private func finishOnce() {
        let first = state.withLock { state -> Bool in
            defer { state.finished = true }
            return !state.finished
        }
        if first { onFinish(self) }
    }

    private func write() async {
        defer { finishOnce() }
        while true {
            do {
                try await output.waitUntilWritable()
                switch try await next() {
                case .frame(let outgoing):
                    let frame = outgoing.frame
                    let dropped = state.withLock { state -> Int in
                        let dropped = Int(frame.sequence &- (state.baseline ?? frame.sequence &- 1) &- 1)
                        state.baseline = frame.sequence
                        state.delivered += 1
                        state.reportedDropped += max(0, dropped)
                        return max(0, dropped)
                    }
                    let header = try BinaryMessage.header(method: StreamFrameNotification.name, params: header(frame, dropped: dropped))
                    output.writeBinary(header: header, payload: outgoing)
                case .end(let end):
                    let dropped = info.dropped
                    let params: StreamEndedNotification.Params
                    switch end {
                    case .closed: params = .init(subscription: id, reason: "closed", dropped: dropped)
                    case .finished: params = .init(subscription: id, reason: "finished", dropped: dropped)
                    case .failed(let error): params = .init(subscription: id, reason: "failed", error: ErrorObject(error), dropped: dropped)
                    case .disconnected: return
                    }
                    output.writeMessage(try WireJSON.encode(RPCRequest(id: nil, method: StreamEndedNotification.name, params: params)))
                    return
                }
            } catch {
                return
            }
        }
    }

    private func header(_ frame: DataFrame, dropped: Int) -> StreamFrameNotification.Params {
        let pixels = frame.width * frame.height
        let bytesPerPixel = pixels > 0 && frame.bytes.count % pixels == 0 ? frame.bytes.count / pixels : 0
        return StreamFrameNotification.Params(
            subscription: id, sequence: frame.sequence, time: frame.time.timeIntervalSince1970, width: frame.width,
            height: frame.height, format: frame.format, bytesPerPixel: bytesPerPixel, stride: frame.width * bytesPerPixel,
            deviceTime: frame.deviceTime, dropped: dropped, bytes: frame.bytes.count)
    }
}
