import LabvisorCore

/// Cuts a byte stream from a device into frames (lines, binary messages).
///
/// Feed bytes with `append(_:)`, then take frames with `nextFrame()` until it returns `nil`.
/// When the stream holds garbage (a line longer than allowed, an impossible header),
/// `nextFrame()` throws a `driverFault` with `fields["reason"]`, having already skipped past
/// the bad bytes: the next call continues at the next frame boundary it can find, so a
/// decoder never stalls on garbage.
public protocol FrameDecoder: Sendable {
    /// A decoded frame.
    associatedtype Frame: Sendable

    /// Adds bytes received from the device.
    mutating func append(_ bytes: some Collection<UInt8>)

    /// The next complete frame, or `nil` when more bytes are needed.
    ///
    /// - Throws: `driverFault` for garbage; the bad bytes are skipped.
    mutating func nextFrame() throws(LabvisorError) -> Frame?

    /// Drops buffered bytes and any partial frame (after a timeout or a flush).
    mutating func reset()

    /// Bytes buffered and not yet returned as a frame.
    var bufferedByteCount: Int { get }
}

extension FrameDecoder {
    /// Appends `bytes` and returns every frame that is complete now.
    ///
    /// - Throws: the first garbage error; frames before it are lost with it, frames after
    ///   it stay buffered for the next call.
    public mutating func decode(_ bytes: some Collection<UInt8>) throws(LabvisorError) -> [Frame] {
        append(bytes)
        var frames: [Frame] = []
        while let frame = try nextFrame() { frames.append(frame) }
        return frames
    }
}

extension LabvisorError {
    /// Garbage from a device: `reason` is a short code (`frameTooLong`), `detail` a sentence.
    static func badFrame(_ reason: String, _ detail: String) -> LabvisorError {
        LabvisorError(.driverFault, "garbage from the device: \(detail)", fields: ["reason": .string(reason)])
    }
}
