import Foundation

/// `stream.open`: subscribes this connection to one of an instrument's data streams.
public enum OpenStream: WireMethod {
    /// Parameters.
    public struct Params: Codable, Sendable, Hashable {
        /// The instrument.
        public var instrument: String
        /// The stream's name; default: the instrument's only (or first) stream.
        public var stream: String?
        /// A lease to check (its token): when given and not valid (revoked, released), the
        /// open fails. Streams are observe access and need no lease.
        public var leaseToken: String?
        /// The most frames waiting for this client in the daemon (1 to 64, default 4); when
        /// the client reads slower than frames come, the oldest waiting frame is dropped and
        /// counted.
        public var queue: Int?
        /// Creates parameters.
        public init(instrument: String, stream: String? = nil, leaseToken: String? = nil, queue: Int? = nil) {
            self.instrument = instrument
            self.stream = stream
            self.leaseToken = leaseToken
            self.queue = queue
        }
    }
    /// Result.
    public struct Result: Codable, Sendable, Hashable {
        /// The subscription id, carried by every `stream.frame` and `stream.ended` it causes.
        public var subscription: Int
        /// The instrument.
        public var instrument: String
        /// The stream's name.
        public var stream: String
        /// The queue length in force.
        public var queue: Int
        /// Creates a result.
        public init(subscription: Int, instrument: String, stream: String, queue: Int) {
            self.subscription = subscription
            self.instrument = instrument
            self.stream = stream
            self.queue = queue
        }
    }
    /// The default `queue`.
    public static let defaultQueue = 4
    /// The largest `queue`.
    public static let maxQueue = 64
    public static let name = "stream.open"
    public static let summary = """
        Subscribes to an instrument's data stream (camera frames). Frames arrive as binary \
        `stream.frame` messages (see "Binary messages"), from the next frame the driver \
        publishes on; starting the acquisition is a driver method (a camera's \
        `startStreaming`). Each subscription has its own bounded queue in the daemon: a client \
        that reads slower than frames come loses the oldest waiting frames, counted in the \
        next frame's `dropped` and in `stream.status`, never unbounded buffering. The \
        subscription ends with a `stream.ended` notification when the client closes it, when \
        the instrument's driver stops or goes away, and silently when the connection ends. \
        The number of subscriptions per connection is limited (`resourceExhausted`).
        """
    public static let errors: [ErrorCode] = [.notFound, .invalidArgument, .leaseRevoked, .resourceExhausted, .deviceGone, .driverFault]
    public static let exampleParams = Params(instrument: "camera-1", stream: "frames", queue: 4)
    public static let exampleResult = Result(subscription: 3, instrument: "camera-1", stream: "frames", queue: 4)
}

/// `stream.close`: ends a subscription made with `stream.open`.
public enum CloseStream: WireMethod {
    /// Parameters.
    public struct Params: Codable, Sendable, Hashable {
        /// The subscription id from `stream.open`.
        public var subscription: Int
        /// Creates parameters.
        public init(subscription: Int) { self.subscription = subscription }
    }
    public typealias Result = Empty
    public static let name = "stream.close"
    public static let summary = """
        Ends a subscription: frames still queued for it are discarded, and a `stream.ended` \
        notification (reason `closed`) follows any frame already on its way.
        """
    public static let errors: [ErrorCode] = [.notFound]
    public static let exampleParams = Params(subscription: 3)
    public static let exampleResult = Empty()
}

/// One subscription as `stream.status` reports it.
public struct StreamSubscriptionInfo: Codable, Sendable, Hashable {
    /// The subscription id.
    public var subscription: Int
    /// The connection holding it (`uid 1000 pid 4242`).
    public var client: String
    /// The instrument.
    public var instrument: String
    /// The stream's name.
    public var stream: String
    /// The queue length.
    public var queue: Int
    /// Frames waiting in the queue now.
    public var queued: Int
    /// Frames written to the client.
    public var delivered: Int
    /// Frames the client missed (dropped from its queue, or never queued because the daemon
    /// was behind): every gap in the sequence numbers it received, plus what is dropped now.
    public var dropped: Int
    /// Creates an entry.
    public init(subscription: Int, client: String, instrument: String, stream: String, queue: Int, queued: Int, delivered: Int, dropped: Int) {
        self.subscription = subscription
        self.client = client
        self.instrument = instrument
        self.stream = stream
        self.queue = queue
        self.queued = queued
        self.delivered = delivered
        self.dropped = dropped
    }
}

/// `stream.status`: every stream subscription in the daemon, with its counters.
public enum StreamStatus: WireMethod {
    /// Parameters: filters; absent members match everything.
    public struct Params: Codable, Sendable, Hashable {
        /// Only subscriptions to this instrument.
        public var instrument: String?
        /// Creates parameters.
        public init(instrument: String? = nil) { self.instrument = instrument }
    }
    /// Result.
    public struct Result: Codable, Sendable, Hashable {
        /// The subscriptions, by id.
        public var subscriptions: [StreamSubscriptionInfo]
        /// The most subscriptions one connection may hold.
        public var maxPerClient: Int
        /// Creates a result.
        public init(subscriptions: [StreamSubscriptionInfo], maxPerClient: Int) {
            self.subscriptions = subscriptions
            self.maxPerClient = maxPerClient
        }
    }
    public static let name = "stream.status"
    public static let summary = """
        Every stream subscription (of every connection), with its queue and counters: frames \
        delivered, waiting, and dropped because the client read too slowly.
        """
    public static let errors: [ErrorCode] = []
    public static let exampleParams = Params(instrument: "camera-1")
    public static let exampleResult = Result(
        subscriptions: [
            StreamSubscriptionInfo(
                subscription: 3, client: "uid 1000 pid 4242", instrument: "camera-1", stream: "frames", queue: 4, queued: 1,
                delivered: 1200, dropped: 7)
        ], maxPerClient: 8)
}

/// `stream.frame`: the header of one frame. It travels as the JSON header of a binary
/// message, followed by `bytes` raw bytes (see `BinaryMessage`), never as plain JSON.
public enum StreamFrameNotification: WireNotification {
    /// Parameters.
    public struct Params: Codable, Sendable, Hashable {
        /// The subscription (from `stream.open`).
        public var subscription: Int
        /// The frame's number in its stream, consecutive from 0 at the driver: a gap is a
        /// frame this client missed (`dropped`).
        public var sequence: UInt64
        /// When the frame was complete on the daemon's host (seconds since 1970).
        public var time: Double
        /// Pixels per row (samples for non-image data).
        public var width: Int
        /// Rows (1 for non-image data).
        public var height: Int
        /// The pixel format: `GREY` (8 bit), `Y16` (16 bit little-endian), `YUY2` (4:2:2,
        /// Y0 U Y1 V), or a driver's own FourCC-like name.
        public var format: String
        /// Bytes per pixel (0 when the payload is not width × height pixels).
        public var bytesPerPixel: Int
        /// Bytes per row (rows are packed: width × bytesPerPixel).
        public var stride: Int
        /// The device's own timestamp (a camera's presentation time stamp, in its ticks).
        public var deviceTime: UInt32?
        /// Frames this client missed since the previous frame it got on this subscription.
        public var dropped: Int
        /// The payload's length: that many raw bytes follow the header.
        public var bytes: Int
        /// Creates a header.
        public init(
            subscription: Int, sequence: UInt64, time: Double, width: Int, height: Int, format: String, bytesPerPixel: Int,
            stride: Int, deviceTime: UInt32? = nil, dropped: Int, bytes: Int
        ) {
            self.subscription = subscription
            self.sequence = sequence
            self.time = time
            self.width = width
            self.height = height
            self.format = format
            self.bytesPerPixel = bytesPerPixel
            self.stride = stride
            self.deviceTime = deviceTime
            self.dropped = dropped
            self.bytes = bytes
        }
    }
    public static let name = "stream.frame"
    public static let summary = """
        One frame of a stream subscription, as a binary message: this JSON header, then \
        `bytes` raw bytes in the same frame (see "Binary messages").
        """
    public static let exampleParams = Params(
        subscription: 3, sequence: 1207, time: 1_790_000_000.125, width: 2048, height: 2048, format: "Y16", bytesPerPixel: 2,
        stride: 4096, deviceTime: 120_700, dropped: 0, bytes: 8_388_608)
}

/// `stream.ended`: a subscription ended (closed, or its stream stopped or failed).
public enum StreamEndedNotification: WireNotification {
    /// Parameters.
    public struct Params: Codable, Sendable, Hashable {
        /// The subscription.
        public var subscription: Int
        /// `closed` (by `stream.close`), `finished` (the driver stopped: shut down after its
        /// last user, or the daemon stops), or `failed` (see `error`).
        public var reason: String
        /// Why it failed (`deviceGone` for an unplugged camera).
        public var error: ErrorObject?
        /// Frames the client missed over the subscription's life.
        public var dropped: Int
        /// Creates parameters.
        public init(subscription: Int, reason: String, error: ErrorObject? = nil, dropped: Int) {
            self.subscription = subscription
            self.reason = reason
            self.error = error
            self.dropped = dropped
        }
    }
    public static let name = "stream.ended"
    public static let summary = "A stream subscription ended; no frames follow for it."
    public static let exampleParams = Params(
        subscription: 3, reason: "failed",
        error: ErrorObject(LabvisorError(.deviceGone, "camera-1 was unplugged", fields: ["instrument": "camera-1"])), dropped: 7)
}
