import LabvisorDriverKit

/// The counters of a camera's streaming, since the driver opened: read by the driver's
/// properties while a `UVCStreamPump` updates them.
public struct UVCStreamStatistics: Sendable, Hashable {
    /// Frames delivered to the frame stream.
    public var frames = 0
    /// Frames discarded: short, long, or with a lost or corrupt payload.
    public var droppedFrames = 0
    /// Payloads with the error bit or an invalid header.
    public var corruptPayloads = 0
    /// Payloads lost on the host before assembly (the USB stream's reader was too slow).
    public var lostPayloads = 0

    /// The totals of `base` plus what `assembler` counted.
    init(_ base: UVCStreamStatistics, plus assembler: UVCFrameAssembler) {
        frames = base.frames + assembler.frames
        droppedFrames = base.droppedFrames + assembler.droppedFrames
        corruptPayloads = base.corruptPayloads + assembler.corruptPayloads
        lostPayloads = base.lostPayloads + assembler.lostPayloads
    }

    /// All zero.
    public init() {}
}
