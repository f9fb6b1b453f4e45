import LabvisorProtocol

/// One frame received on a stream subscription (`Labvisor.frames`): the header the daemon
/// sent and the raw bytes.
public struct StreamFrame: Sendable {
    /// The header: subscription, sequence, time, shape, format, `dropped`, byte count.
    public let header: StreamFrameNotification.Params
    /// The pixels (packed rows, the format's own byte order).
    public let bytes: [UInt8]

    /// Creates a frame.
    public init(header: StreamFrameNotification.Params, bytes: [UInt8]) {
        self.header = header
        self.bytes = bytes
    }

    /// The frame's number in its stream (consecutive at the driver).
    public var sequence: UInt64 { header.sequence }
    /// Pixels per row.
    public var width: Int { header.width }
    /// Rows.
    public var height: Int { header.height }
    /// The pixel format (`GREY`, `Y16`, `YUY2`, ...).
    public var format: String { header.format }
    /// Frames missed since the previous frame of this subscription.
    public var dropped: Int { header.dropped }
}
