/// The frame streams of one instrument, by name: a driver publishes into
/// `stream(named:)` (through `DriverContext.stream(named:)`), and whoever hosts the driver
/// (the daemon, a test) reads the same stream by its name.
public final class FrameStreams: Sendable {
    private let streams = LockedState<[String: FrameStream]>([:])

    /// An empty set of streams.
    public init() {}

    /// The stream called `name`, created (keeping `capacity` frames) on first use; later
    /// calls return the same stream whatever their `capacity`.
    public func stream(named name: String, capacity: Int = 8) -> FrameStream {
        streams.withLock { streams in
            if let stream = streams[name] { return stream }
            let stream = FrameStream(name: name, capacity: capacity)
            streams[name] = stream
            return stream
        }
    }

    /// The names of the streams created so far, sorted.
    public var names: [String] { streams.withLock { $0.keys.sorted() } }

    /// Finishes every stream (their readers get what is buffered, then `nil`).
    public func finishAll() {
        for stream in streams.withLock({ Array($0.values) }) { stream.finish() }
    }
}
