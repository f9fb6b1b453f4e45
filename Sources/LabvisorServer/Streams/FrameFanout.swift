import LabvisorCore

/// Reads one driver stream (a `FrameStream` has one reader) and offers every frame to the
/// stream's subscriptions, each with its own bounded queue, so one slow client never holds
/// up another. It runs until the stream finishes (the driver shut down, or failed), then
/// ends every subscription with the reason. With no subscribers, frames are discarded.
final class FrameFanout: Sendable {
    /// The driver's stream.
    let source: FrameStream
    private struct State {
        var subscribers: [Int: StreamSubscription] = [:]
        var end: StreamSubscription.End?
    }

    private let state = LockedState(State())

    /// Starts reading `source`.
    init(source: FrameStream) {
        self.source = source
        Task { await self.run() }
    }

    /// Whether the stream has ended.
    var hasEnded: Bool { state.withLock { $0.end != nil } }

    /// Adds `subscription`; it gets the frames published from now on.
    ///
    /// - Throws: `closed` naming the stream when it has ended (the caller opens the driver's
    ///   current stream instead).
    func attach(_ subscription: StreamSubscription) throws(LabvisorError) {
        let ended = state.withLock { state -> Bool in
            guard state.end == nil else { return true }
            state.subscribers[subscription.id] = subscription
            return false
        }
        if ended { throw LabvisorError.closed("stream '\(source.name)'") }
    }

    /// Removes subscription `id`.
    func detach(_ id: Int) {
        _ = state.withLock { $0.subscribers.removeValue(forKey: id) }
    }

    private func run() async {
        let end: StreamSubscription.End
        do {
            while let frame = try await source.next(timeout: nil) {
                let outgoing = OutgoingFrame(frame)
                for subscriber in state.withLock({ Array($0.subscribers.values) }) { subscriber.offer(outgoing) }
            }
            end = .finished
        } catch {
            end = .failed(error)
        }
        finish(end)
    }

    private func finish(_ end: StreamSubscription.End) {
        let subscribers = state.withLock { state in
            state.end = end
            defer { state.subscribers = [:] }
            return Array(state.subscribers.values)
        }
        for subscriber in subscribers { subscriber.end(end) }
    }
}
