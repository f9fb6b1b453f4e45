import LabvisorDriverKit

/// Puts frames together from video payloads (UVC 1.1 2.4.3.3, bulk transfers: one payload per
/// transfer, each with its header).
///
/// A frame starts when the frame id bit (FID) toggles and ends with the end-of-frame bit
/// (EOF) or, for devices that do not set EOF, with the next toggle. A finished frame is
/// delivered only when it is whole: exactly `frameSize` bytes and no payload of it lost or
/// flagged. Otherwise it counts in `droppedFrames` and is never passed on. Payloads with the
/// error bit or an invalid header count in `corruptPayloads` and spoil their frame.
public struct UVCFrameAssembler: Sendable {
    /// A frame put together.
    public struct Frame: Sendable, Hashable {
        /// The image bytes (`frameSize` of them).
        public var bytes: [UInt8]
        /// The presentation time stamp of its payloads, when the device sent one.
        public var presentationTime: UInt32?
    }

    /// Bytes of a whole frame: width × height × bytes per pixel.
    public let frameSize: Int
    /// Frames delivered.
    public private(set) var frames = 0
    /// Frames discarded: short, long, or with a lost or corrupt payload.
    public private(set) var droppedFrames = 0
    /// Payloads with the error bit set or an invalid header.
    public private(set) var corruptPayloads = 0
    /// Payloads the transport lost before they reached the assembler (`lost(_:)`).
    public private(set) var lostPayloads = 0

    private var buffer: [UInt8] = []
    private var frameID: Bool?
    private var spoiled = false
    private var presentationTime: UInt32?

    /// An assembler for frames of `frameSize` bytes.
    public init(frameSize: Int) {
        self.frameSize = frameSize
        buffer.reserveCapacity(frameSize)
    }

    /// Takes one payload; returns the frames it completed (none, one, or two when a toggle
    /// ends one frame and the same payload is a whole frame with EOF).
    public mutating func add(_ payload: [UInt8]) -> [Frame] {
        guard let header = UVCPayloadHeader(payload) else {
            corruptPayloads += 1
            spoiled = true
            return []
        }
        var completed: [Frame] = []
        if let frameID, header.frameID != frameID, !buffer.isEmpty || spoiled {
            if let frame = finish() { completed.append(frame) }
        }
        frameID = header.frameID
        if header.isError {
            corruptPayloads += 1
            spoiled = true
        } else if !spoiled {
            let data = payload.count - header.length
            if buffer.count + data > frameSize {
                spoiled = true
            } else {
                buffer.append(contentsOf: payload[header.length...])
                if let time = header.presentationTime { presentationTime = time }
            }
        }
        if header.endOfFrame, let frame = finish() { completed.append(frame) }
        return completed
    }

    /// Records `count` payloads lost by the transport: the frame they belonged to is spoiled.
    public mutating func lost(_ count: Int) {
        guard count > 0 else { return }
        lostPayloads += count
        spoiled = true
    }

    /// Ends the frame in progress: the whole one, or `nil` (counted as dropped when it had
    /// any data or a spoiled payload).
    private mutating func finish() -> Frame? {
        defer {
            buffer.removeAll(keepingCapacity: true)
            spoiled = false
            presentationTime = nil
        }
        if buffer.isEmpty && !spoiled { return nil }
        guard !spoiled, buffer.count == frameSize else {
            droppedFrames += 1
            return nil
        }
        frames += 1
        return Frame(bytes: buffer, presentationTime: presentationTime)
    }
}
