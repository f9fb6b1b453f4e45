import DequeModule
import Foundation
import LabvisorProtocol

/// The client side of stream subscriptions on one connection: routes binary `stream.frame`
/// messages and `stream.ended` notifications to their subscription's bounded queue, and
/// holds the connection's reading back (SwiftNIO `autoRead` off) while a queue is full, so a
/// slow consumer makes the daemon drop (and count) frames instead of this process buffering
/// them without bound. Reading never pauses while a call on the connection waits for its
/// response (the response would wait behind the frames): then a full queue drops its oldest
/// frame in this process, counted in the next frame's `dropped`. Routing and pausing run on
/// the channel's event loop.
final class FrameRouter: Sendable {
    private struct Subscription {
        var capacity: Int
        var frames: Deque<StreamFrame> = []
        var reader: WaitContinuation<StreamFrame?, any Error>?
        /// Set when the subscription ended: `nil` error for a normal end.
        var ended: LabvisorError?? = nil
    }

    private struct State {
        var subscriptions: [Int: Subscription] = [:]
        /// `stream.open` requests in flight: request id to queue capacity.
        var expected: [Int: Int] = [:]
        var paused = false
        var connectionEnded: LabvisorError?
    }

    private let state = LockedState(State())

    /// Registers `stream.open` request `requestID`, so the subscription exists (with room for
    /// `capacity` frames) before the first frame, which follows the response at once.
    func expectOpen(requestID: Int, capacity: Int) {
        state.withLock { $0.expected[requestID] = capacity }
    }

    /// Forgets an expected open (its call failed).
    func cancelExpected(requestID: Int) {
        _ = state.withLock { $0.expected.removeValue(forKey: requestID) }
    }

    /// A response arrived (on the event loop): creates the subscription of an expected open.
    func responseArrived(requestID: Int, _ response: JSONValue) {
        guard let capacity = state.withLock({ $0.expected.removeValue(forKey: requestID) }) else { return }
        guard let result = try? JSONValueDecoder().decode(RPCResponse<OpenStream.Result>.self, from: response).result else { return }
        state.withLock { $0.subscriptions[result.subscription] = Subscription(capacity: capacity) }
    }

    /// A frame arrived (on the event loop). Returns whether reading should pause now.
    ///
    /// - Parameter mayPause: whether reading may pause for a full queue. Not while a call on
    ///   this connection waits for its response (it would wait behind the frames): then a full
    ///   queue drops its oldest frame here, and the next frame's `dropped` counts it.
    func frameArrived(_ frame: StreamFrame, mayPause: Bool) -> Bool {
        let (reader, pause): (WaitContinuation<StreamFrame?, any Error>?, Bool) = state.withLock { state in
            let id = frame.header.subscription
            guard var subscription = state.subscriptions[id], subscription.ended == nil else { return (nil, false) }
            if let reader = subscription.reader {
                subscription.reader = nil
                state.subscriptions[id] = subscription
                return (reader, false)
            }
            if !mayPause, subscription.frames.count >= subscription.capacity, let oldest = subscription.frames.popFirst() {
                subscription.frames.append(frame)
                let next = subscription.frames.removeFirst()
                var header = next.header
                header.dropped += oldest.header.dropped + 1
                subscription.frames.prepend(StreamFrame(header: header, bytes: next.bytes))
            } else {
                subscription.frames.append(frame)
            }
            let full = subscription.frames.count >= subscription.capacity
            state.subscriptions[id] = subscription
            guard full, mayPause, !state.paused else { return (nil, false) }
            state.paused = true
            return (nil, true)
        }
        reader?.resume(returning: frame)
        return pause
    }

    /// `stream.ended` arrived: the reader gets the queued frames, then the end.
    func ended(_ params: StreamEndedNotification.Params) {
        let error = params.error?.labvisorError
        let reader = state.withLock { state -> WaitContinuation<StreamFrame?, any Error>? in
            guard var subscription = state.subscriptions[params.subscription], subscription.ended == nil else { return nil }
            subscription.ended = .some(error)
            defer { state.subscriptions[params.subscription] = subscription }
            guard let reader = subscription.reader else { return nil }
            subscription.reader = nil
            return reader
        }
        guard let reader else { return }
        if let error { reader.resume(throwing: error) } else { reader.resume(returning: nil) }
    }

    /// The connection ended: every subscription ends with `error` after its queued frames.
    func connectionEnded(_ error: LabvisorError) {
        let readers = state.withLock { state -> [WaitContinuation<StreamFrame?, any Error>] in
            if state.connectionEnded == nil { state.connectionEnded = error }
            var readers: [WaitContinuation<StreamFrame?, any Error>] = []
            for (id, var subscription) in state.subscriptions where subscription.ended == nil {
                subscription.ended = .some(error)
                if let reader = subscription.reader { readers.append(reader) }
                subscription.reader = nil
                state.subscriptions[id] = subscription
            }
            return readers
        }
        for reader in readers { reader.resume(throwing: error) }
    }

    /// The next frame of subscription `id`; `nil` after it ended normally.
    ///
    /// - Parameter resume: called after a frame was taken while reading was paused, to
    ///   resume it (on the event loop) when every queue has room again.
    /// - Throws: the subscription's error (`deviceGone`, the connection's end), `timeout`,
    ///   `CancellationError`.
    func next(_ id: Int, timeout: Duration?, resume: @escaping @Sendable () -> Void) async throws -> StreamFrame? {
        let state = self.state
        let frame: StreamFrame? = try await suspend(until: timeout.map { .now + $0 }) { (continuation: WaitContinuation<StreamFrame?, any Error>) in
            let ready: Result<StreamFrame?, any Error>? = state.withLock { state in
                guard var subscription = state.subscriptions[id] else { return .success(nil) }
                defer { state.subscriptions[id] = subscription }
                if let frame = subscription.frames.popFirst() { return .success(frame) }
                if let ended = subscription.ended { return ended.map { .failure($0) } ?? .success(nil) }
                precondition(subscription.reader == nil, "two concurrent next() calls on stream subscription \(id)")
                subscription.reader = continuation
                return nil
            }
            if let ready { continuation.resume(with: ready) }
        } expire: { end in
            let reader = state.withLock { state -> WaitContinuation<StreamFrame?, any Error>? in
                defer { state.subscriptions[id]?.reader = nil }
                return state.subscriptions[id]?.reader
            }
            switch end {
            case .deadline:
                reader?.resume(throwing: LabvisorError(
                    .timeout, "no frame on stream subscription \(id) within \((timeout ?? .zero).seconds) s",
                    fields: ["subscription": .int(id), "timeout_s": .double((timeout ?? .zero).seconds)]))
            case .cancelled: reader?.resume(throwing: CancellationError())
            }
        }
        if state.withLock({ $0.paused }) { resume() }
        return frame
    }

    /// Whether reading should resume now (on the event loop): it was paused and every queue
    /// has room.
    func shouldResumeReading() -> Bool {
        state.withLock { state in
            guard state.paused else { return false }
            guard state.subscriptions.values.allSatisfy({ $0.frames.count < $0.capacity || $0.ended != nil }) else { return false }
            state.paused = false
            return true
        }
    }

    /// A call waits for its response (on the event loop): reading must go on. Returns
    /// whether it was paused.
    func resumeForResponse() -> Bool {
        state.withLock { state in
            defer { state.paused = false }
            return state.paused
        }
    }

    /// Forgets subscription `id` (closed by the client); its queued frames are dropped.
    func remove(_ id: Int) {
        let reader = state.withLock { state in state.subscriptions.removeValue(forKey: id)?.reader }
        reader?.resume(returning: nil)
    }
}
