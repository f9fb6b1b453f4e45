import LabvisorDriverKit

/// One streaming session: reads payloads from a `USBBulkStream`, assembles frames
/// (`UVCFrameAssembler`) and publishes whole ones on a `FrameStream`. Runs in its own task so
/// payloads never wait for the driver's actor.
///
/// It ends when the USB stream ends: after `stop()` (the frame stream stays open for the
/// next session), or with the stream's error (`deviceGone` on unplug), which finishes the
/// frame stream with that error so its consumer learns it.
final class UVCStreamPump: Sendable {
    /// What is streamed.
    struct Shape: Sendable, Hashable {
        var format: UVCPixelFormat
        var width: Int
        var height: Int
        var frameSize: Int { width * height * format.bytesPerPixel }
    }

    let shape: Shape
    private let usb: any USBPayloadStream
    private let output: FrameStream
    /// The totals before this session, and this session's assembler.
    private let counters: LockedState<(base: UVCStreamStatistics, session: UVCStreamStatistics, ended: LabvisorError?)>
    private let task = LockedState<Task<Void, Never>?>(nil)

    /// Prepares a session continuing the totals `base`.
    init(usb: any USBPayloadStream, output: FrameStream, shape: Shape, base: UVCStreamStatistics) {
        self.usb = usb
        self.output = output
        self.shape = shape
        counters = LockedState((base, base, nil))
    }

    /// The totals so far, this session included.
    var statistics: UVCStreamStatistics { counters.withLock { $0.session } }

    /// The error that ended the session, if one did.
    var endError: LabvisorError? { counters.withLock { $0.ended } }

    /// Submits the transfers and starts reading.
    /// - Throws: the USB stream's start error (`deviceGone`, `closed`).
    func start() throws(LabvisorError) {
        try usb.start()
        let reader = Task { await self.run() }
        task.withLock { $0 = reader }
    }

    /// Stops at once: cancels the transfers in flight (bounded wait for libusb) and waits for
    /// the reading task to end. Frames already published stay in the frame stream.
    func stop() async {
        await usb.stop()
        let reader = task.withLock { $0 }
        reader?.cancel()
        await reader?.value
    }

    private func run() async {
        var assembler = UVCFrameAssembler(frameSize: shape.frameSize)
        var lostSoFar = 0
        let base = counters.withLock { $0.base }
        while true {
            let payload: [UInt8]?
            do {
                payload = try await usb.next(timeout: nil)
            } catch {
                let ended = error.code == .unavailable && error.fields["cancelled"] == true ? nil : error
                counters.withLock { $0.ended = ended ?? LabvisorError.closed("the camera stream") }
                if let ended { output.finish(error: ended) }
                return
            }
            guard let payload else { return }
            let lost = usb.dropped
            if lost > lostSoFar {
                assembler.lost(lost - lostSoFar)
                lostSoFar = lost
            }
            let frames = assembler.add(payload)
            let totals = UVCStreamStatistics(base, plus: assembler)
            counters.withLock { $0.session = totals }  // before publishing: a consumer sees counts that include its frame
            for frame in frames {
                output.publish(
                    DataFrame(
                        width: shape.width, height: shape.height, format: shape.format.rawValue,
                        deviceTime: frame.presentationTime, bytes: frame.bytes))
            }
        }
    }
}
