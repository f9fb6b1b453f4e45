import Foundation

/// One frame of a data stream (a camera image, a block of samples): its bytes with what a
/// consumer needs to read them.
public struct DataFrame: Sendable, Hashable {
    /// Consecutive per stream from 0, given by `FrameStream.publish`: a gap seen by a
    /// consumer is a frame dropped for it (`FrameStream.dropped`).
    public var sequence: UInt64
    /// When the frame was complete on the host.
    public var time: Date
    /// Pixels per row (samples per block for non-image data).
    public var width: Int
    /// Rows (1 for non-image data).
    public var height: Int
    /// How the bytes are laid out: a FourCC-like name (`GREY`, `Y16`, `YUY2`).
    public var format: String
    /// The device's own timestamp of the frame (a camera's presentation time stamp, in its
    /// clock's ticks), when it sends one.
    public var deviceTime: UInt32?
    /// The payload.
    public var bytes: [UInt8]

    /// Creates a frame (the stream sets `sequence` when it is published).
    public init(
        sequence: UInt64 = 0, time: Date = Date(), width: Int, height: Int, format: String, deviceTime: UInt32? = nil,
        bytes: [UInt8]
    ) {
        self.sequence = sequence
        self.time = time
        self.width = width
        self.height = height
        self.format = format
        self.deviceTime = deviceTime
        self.bytes = bytes
    }
}
