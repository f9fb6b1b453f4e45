import LabvisorProtocol

/// A stream subscription (`Labvisor.frames`): an `AsyncSequence` of the frames, ending when
/// the subscription ends (`stream.close`, the driver stopped) and throwing its error
/// (`deviceGone`, the connection's end). Cancelling the iterating task, `close()`, or letting
/// go of the subscription closes it in the daemon.
///
/// Frames wait in a queue of `queue` frames in this process; while it is full the connection
/// stops reading, the daemon's own queue fills and it drops the oldest frames, which each
/// frame's `dropped` reports. One reader at a time.
public final class FrameSubscription: AsyncSequence, Sendable {
    public typealias Element = StreamFrame

    /// The subscription as the daemon opened it: id, instrument, stream, queue.
    public let opened: OpenStream.Result
    private let connection: LabvisorConnection
    private let closed = LockedState(false)

    init(connection: LabvisorConnection, opened: OpenStream.Result) {
        self.connection = connection
        self.opened = opened
    }

    /// The subscription id.
    public var id: Int { opened.subscription }

    /// The next frame; `nil` once the subscription ended normally or was closed.
    ///
    /// - Parameter timeout: how long to wait (`nil`: until a frame comes, the subscription
    ///   ends or the task is cancelled).
    /// - Throws: the subscription's error; `timeout`; `CancellationError` (the subscription is
    ///   then closed).
    public func next(timeout: Duration? = nil) async throws -> StreamFrame? {
        let connection = self.connection
        do {
            return try await connection.frames.next(id, timeout: timeout) { connection.resumeReadingIfRoom() }
        } catch is CancellationError {
            closeInBackground()
            throw CancellationError()
        }
    }

    /// Closes the subscription: frames still queued are dropped, the daemon stops sending.
    public func close(timeout: Duration = .seconds(5)) async throws {
        guard markClosed() else { return }
        connection.frames.remove(id)
        connection.resumeReadingIfRoom()
        _ = try await connection.call(CloseStream.self, .init(subscription: id), timeout: timeout)
    }

    private func markClosed() -> Bool {
        closed.withLock { closed in
            defer { closed = true }
            return !closed
        }
    }

    private func closeInBackground() {
        guard markClosed() else { return }
        connection.frames.remove(id)
        connection.resumeReadingIfRoom()
        let connection = self.connection
        let id = self.id
        Task { _ = try? await connection.call(CloseStream.self, .init(subscription: id), timeout: .seconds(5)) }
    }

    deinit {
        closeInBackground()
    }

    /// Reads with `next()` until the subscription ends.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let subscription: FrameSubscription

        /// The next frame; `nil` at the end.
        public mutating func next() async throws -> StreamFrame? {
            try await subscription.next(timeout: nil)
        }
    }

    /// An iterator over the frames.
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(subscription: self) }
}
