/// A named stream of `DataFrame`s from a driver to one consumer, with bounded memory.
///
/// The producer calls `publish(_:)`, which never blocks: at most `capacity` frames wait for
/// the consumer, and when it is slower the oldest waiting frame is dropped and counted in
/// `dropped` (never silently). The consumer reads with `next(timeout:)` or iterates the
/// stream (`for try await frame in stream`); one reader at a time. `finish(error:)` ends it:
/// the reader gets the frames still buffered, then the error (once) or `nil`.
public final class FrameStream: AsyncSequence, Sendable {
    /// The frames.
    public typealias Element = DataFrame

    private struct State {
        var frames: SingleReaderBuffer<DataFrame>
        var nextSequence: UInt64 = 0
        var published = 0
    }

    /// The stream's name (`frames`), unique per instrument.
    public let name: String
    /// Frames kept for a slow consumer before the oldest is dropped.
    public let capacity: Int
    private let state: LockedState<State>

    /// Creates a stream keeping at most `capacity` (at least 1) frames for its consumer.
    public init(name: String, capacity: Int = 8) {
        self.name = name
        self.capacity = Swift.max(1, capacity)
        state = LockedState(State(frames: SingleReaderBuffer(capacity: capacity)))
    }

    /// Frames published so far.
    public var published: Int { state.withLock { $0.published } }
    /// Frames dropped so far because the consumer was slower than the producer.
    public var dropped: Int { state.withLock { $0.frames.dropped } }
    /// Frames waiting for the consumer now.
    public var buffered: Int { state.withLock { $0.frames.count } }
    /// Whether `finish()` was called.
    public var isFinished: Bool { state.withLock { $0.frames.isEnded } }

    /// Numbers `frame` with the stream's next sequence number and hands it to the consumer
    /// (or buffers it, dropping the oldest when full). Ignored after `finish()`.
    /// - Returns: the sequence number given, `nil` after `finish()`.
    @discardableResult
    public func publish(_ frame: DataFrame) -> UInt64? {
        var frame = frame
        let (wake, sequence) = state.withLock { state -> (SingleReaderBuffer<DataFrame>.Wake?, UInt64?) in
            guard !state.frames.isEnded else { return (nil, nil) }
            frame.sequence = state.nextSequence
            state.nextSequence += 1
            state.published += 1
            return (state.frames.append(frame), frame.sequence)
        }
        wake?.resume()
        return sequence
    }

    /// Ends the stream: no more frames are accepted; the reader gets those buffered, then
    /// `error` (once: a device that went away ends its stream with `deviceGone`), then `nil`.
    /// Only the first call counts.
    public func finish(error: LabvisorError? = nil) {
        state.withLock { $0.frames.end(error: error) }?.resume()
    }

    /// The next frame; `nil` once the stream is finished and drained.
    ///
    /// - Parameter timeout: how long to wait (`nil`: until a frame comes, the stream
    ///   finishes or the task is cancelled).
    /// - Throws: the error the stream was finished with (after the buffered frames);
    ///   `timeout` naming the stream; `LabvisorError.cancelled` when the task is cancelled.
    ///   One reader at a time.
    public func next(timeout: Duration? = nil) async throws(LabvisorError) -> DataFrame? {
        let name = name
        return try await state.next(
            from: \.frames, timeout: timeout,
            timedOut: {
                LabvisorError(
                    .timeout, "no frame on stream \(name) within \((timeout ?? .zero).seconds) s",
                    fields: ["stream": .string(name), "timeout_s": .double((timeout ?? .zero).seconds)])
            },
            cancelled: { LabvisorError.cancelled("reading frame stream \(name)") })
    }

    /// Reads with `next()` until the stream ends.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let stream: FrameStream

        /// The next frame; `nil` at the end.
        public mutating func next() async throws -> DataFrame? {
            try await stream.next(timeout: nil)
        }
    }

    /// An iterator over the frames.
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(stream: self) }
}
