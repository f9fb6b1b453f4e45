import LabvisorDriverKit

/// A USB Video Class camera over libusb: probe/commit negotiation, bulk streaming of
/// uncompressed frames (GREY, Y16, YUY2) published on the instrument's `frames` stream, and
/// the camera terminal's exposure controls. See README.md.
public actor UVCCameraDriver: InstrumentDriver {
    public static let driverID = "uvc-camera"

    /// The name of the stream frames are published on.
    public static let frameStreamName = "frames"
    /// Frames kept for a slow consumer of the frame stream before the oldest is dropped.
    public static let frameStreamCapacity = 4
    /// Bulk transfers kept in flight while streaming.
    public static let transfersInFlight = 8

    static let format = Argument<UVCPixelFormat>("format", "pixel format")
    static let width = Argument<Int>("width", "frame width", unit: "px", range: 1...65535)
    static let height = Argument<Int>("height", "frame height", unit: "px", range: 1...65535)
    static let fps = Argument<Double>(
        "fps", "frame rate to ask for; 0 takes the camera's default", unit: "Hz", range: 0...1000, default: 0)

    public static let methods: [DriverMethod<UVCCameraDriver>] = [
        DriverMethod(
            "startStreaming", "negotiates a format, size and rate (probe/commit) and streams frames to 'frames'",
            arguments: [format, width, height, fps], unit: "Hz"
        ) { camera, arguments in
            try await camera.startStreaming(
                format: arguments[format], width: arguments[width], height: arguments[height], fps: arguments[fps])
        },
        DriverMethod("stopStreaming", "stops streaming at once", immediate: true) { camera, _ in
            await camera.stopStreaming()
        },
    ]

    public static let properties: [DriverProperty<UVCCameraDriver>] = [
        DriverProperty(
            "exposure", "exposure time (manual exposure; setting it leaves automatic exposure)", unit: "µs",
            get: { camera in try await camera.exposure() }, set: { camera, value in try await camera.setExposure(value) }),
        DriverProperty("exposureRange", "the exposure times the camera accepts: {minimum, maximum} in µs") { camera in
            try await camera.exposureRange().json
        },
        DriverProperty(
            "autoExposure", "whether the camera sets the exposure itself",
            get: { camera in try await camera.autoExposure() }, set: { camera, on in try await camera.setAutoExposure(on) }),
        DriverProperty("formats", "the uncompressed formats with their frame sizes and rates") { camera in
            await camera.formatList
        },
        DriverProperty("streaming", "whether frames are streaming") { camera in await camera.isStreaming },
        DriverProperty("frameCount", "frames delivered since the driver opened") { camera in await camera.statistics.frames },
        DriverProperty("droppedFrames", "frames discarded as incomplete or corrupt since the driver opened") { camera in
            await camera.statistics.droppedFrames
        },
        DriverProperty("corruptPayloads", "payloads with the error bit or a bad header since the driver opened") { camera in
            await camera.statistics.corruptPayloads
        },
        DriverProperty("lostPayloads", "payloads lost on the host (reader too slow) since the driver opened") { camera in
            await camera.statistics.lostPayloads
        },
    ]

    /// What the descriptors say.
    public let uvc: UVCDeviceDescription
    /// The streaming interface in use.
    public let streamingInterface: UVCStreamingInterface
    /// The control last committed (`nil` before the first `startStreaming`).
    public private(set) var committed: UVCStreamControl?

    private let device: any USBDeviceIO
    private let context: DriverContext
    private let frames: FrameStream
    private var pump: UVCStreamPump?
    private var totals = UVCStreamStatistics()

    public init(context: DriverContext) async throws {
        self.context = context
        device = try context.usbDevice().device
        guard let configuration = device.info.configurations.first else {
            throw LabvisorError(.driverFault, "USB device \(device.info.label) has no configuration")
        }
        uvc = try UVCDeviceDescription(configuration: configuration)
        guard let streaming = uvc.streaming.first(where: { $0.isBulk && !$0.formats.isEmpty }) else {
            throw LabvisorError(
                .driverFault,
                "USB device \(device.info.label) has no bulk VideoStreaming interface with an uncompressed GREY, Y16 or YUY2 format")
        }
        streamingInterface = streaming
        try device.claim(interface: uvc.controlInterface)
        try device.claim(interface: streaming.number)
        try device.setAlternateSetting(0, interface: streaming.number)
        frames = context.stream(named: Self.frameStreamName, capacity: Self.frameStreamCapacity)
    }

    public func identify() async throws -> InstrumentIdentification {
        let strings = try await device.strings()
        let info = device.info
        let ids = String(format4: info.vendorID) + ":" + String(format4: info.productID)
        return InstrumentIdentification(
            model: strings.product ?? "UVC camera \(ids)", serialNumber: strings.serialNumber,
            firmware: "\(info.deviceVersion >> 8).\(String(format2: UInt8(info.deviceVersion & 0xff)))",
            details: [
                "manufacturer": strings.manufacturer.map { .string($0) } ?? .null, "usbID": .string(ids),
                "uvcVersion": .string("\(uvc.uvcVersion >> 8).\(String(format2: UInt8(uvc.uvcVersion & 0xff)))"),
            ])
    }

    public func shutdown() async throws { await stopStreaming() }

    // MARK: Streaming

    /// Negotiates `format` at `width`×`height` (and `fps`, or the camera's default when 0),
    /// commits it and starts streaming. A stream already running is stopped first.
    ///
    /// - Returns: the negotiated frame rate in Hz.
    /// - Throws: `invalidArgument` naming `format` or `width` when the camera does not offer
    ///   them; `driverFault` when the camera's probe answer does not match the request; the
    ///   transfers' errors (`deviceGone`, `timeout`).
    func startStreaming(format pixelFormat: UVCPixelFormat, width: Int, height: Int, fps: Double) async throws -> Double {
        await stopStreaming()
        guard let format = streamingInterface.formats.first(where: { $0.pixelFormat == pixelFormat }) else {
            throw LabvisorError.invalidArgument(
                "format",
                "the camera offers \(streamingInterface.formats.map(\.pixelFormat.rawValue).joined(separator: ", ")), not \(pixelFormat.rawValue)")
        }
        guard let frame = format.frames.first(where: { $0.width == width && $0.height == height }) else {
            throw LabvisorError.invalidArgument(
                "width", "\(pixelFormat.rawValue) comes in \(format.frames.map { "\($0.width)x\($0.height)" }.joined(separator: ", ")), not \(width)x\(height)")
        }
        let control = try await negotiate(format: format, frame: frame, interval: Self.interval(for: fps, in: frame))
        committed = control
        let shape = UVCStreamPump.Shape(format: pixelFormat, width: width, height: height)
        let usb = try device.bulkStream(
            endpoint: streamingInterface.endpoint,
            configuration: .init(
                transferSize: Int(control.maxPayloadTransferSize), transfersInFlight: Self.transfersInFlight,
                bufferLimit: 64))
        let session = UVCStreamPump(usb: usb, output: frames, shape: shape, base: totals)
        try session.start()
        pump = session
        context.publish(property: "streaming", value: true)
        return control.frameInterval > 0 ? 1e7 / Double(control.frameInterval) : 0
    }

    /// Stops streaming at once (bounded by `USBBulkStream.stopLimit`). Harmless when stopped.
    func stopStreaming() async {
        guard let session = pump else { return }
        pump = nil
        await session.stop()
        totals = session.statistics
        context.publish(property: "streaming", value: false)
    }

    /// Whether a stream runs (a stream ended by an unplug does not).
    var isStreaming: Bool { pump.map { $0.endError == nil } ?? false }

    /// The counters since the driver opened.
    var statistics: UVCStreamStatistics { pump?.statistics ?? totals }

    /// SET_CUR probe, GET_CUR probe, SET_CUR commit (UVC 1.1 4.3.1.1.1).
    private func negotiate(format: UVCFormat, frame: UVCFrameSize, interval: UInt32) async throws -> UVCStreamControl {
        let interface = UInt16(streamingInterface.number)
        let probe = UVCStreamControl(
            formatIndex: format.index, frameIndex: frame.index, frameInterval: interval, uvcVersion: uvc.uvcVersion)
        try await device.control(
            requestType: UVC.requestOut, request: UVC.Request.setCurrent, value: UInt16(UVC.StreamingSelector.probe) << 8,
            index: interface, data: probe.bytes)
        let answer = try UVCStreamControl(
            bytes: try await device.control(
                requestType: UVC.requestIn, request: UVC.Request.getCurrent, value: UInt16(UVC.StreamingSelector.probe) << 8,
                index: interface, length: UInt16(probe.bytes.count)))
        guard answer.formatIndex == format.index, answer.frameIndex == frame.index else {
            throw LabvisorError(
                .driverFault,
                "the camera answered the probe for format \(format.index) frame \(frame.index) with format \(answer.formatIndex) frame \(answer.frameIndex)",
                fields: ["reason": "probe"])
        }
        guard answer.maxPayloadTransferSize > 12 else {
            throw LabvisorError(
                .driverFault, "the camera's probe answer has a payload size of \(answer.maxPayloadTransferSize) bytes",
                fields: ["reason": "probe"])
        }
        try await device.control(
            requestType: UVC.requestOut, request: UVC.Request.setCurrent, value: UInt16(UVC.StreamingSelector.commit) << 8,
            index: interface, data: answer.bytes)
        return answer
    }

    /// The frame interval (100 ns units) closest to `fps` that `frame` offers; its default for 0.
    static func interval(for fps: Double, in frame: UVCFrameSize) -> UInt32 {
        guard fps > 0 else { return frame.defaultInterval }
        let wanted = 1e7 / fps
        if frame.continuousIntervals, frame.intervals.count == 3 {
            let (low, high, step) = (Double(frame.intervals[0]), Double(frame.intervals[1]), Double(max(1, frame.intervals[2])))
            let clamped = min(max(wanted, low), high)
            return UInt32(low + ((clamped - low) / step).rounded() * step)
        }
        return frame.intervals.min { abs(Double($0) - wanted) < abs(Double($1) - wanted) } ?? frame.defaultInterval
    }

    /// The formats as clients see them.
    var formatList: JSONValue {
        .array(
            streamingInterface.formats.map { format in
                .object([
                    "format": .string(format.pixelFormat.rawValue), "bitsPerPixel": .int(format.bitsPerPixel),
                    "sizes": .array(
                        format.frames.map { frame in
                            .object([
                                "width": .int(frame.width), "height": .int(frame.height),
                                "fps": .array(
                                    (frame.continuousIntervals ? Array(frame.intervals.prefix(2)) : frame.intervals).map {
                                        .double(1e7 / Double(max($0, 1)))
                                    }),
                            ])
                        }),
                ])
            })
    }

    // MARK: Exposure (camera terminal controls)

    /// The exposure time in µs (`CT_EXPOSURE_TIME_ABSOLUTE_CONTROL`, 100 µs units).
    func exposure() async throws -> Double {
        Double(try await cameraControl(UVC.Request.getCurrent, exposureSelector())) * 100
    }

    /// The exposure times the camera accepts (GET_MIN, GET_MAX), in µs.
    func exposureRange() async throws -> ClosedRange<Double> {
        let selector = try exposureSelector()
        let minimum = try await cameraControl(UVC.Request.getMinimum, selector)
        let maximum = try await cameraControl(UVC.Request.getMaximum, selector)
        return Double(minimum) * 100...Double(maximum) * 100
    }

    /// Sets manual exposure of `microseconds` (rounded to the camera's 100 µs unit).
    /// - Throws: `invalidArgument` naming `exposure` outside the camera's range (nothing is
    ///   sent then).
    func setExposure(_ microseconds: Double) async throws {
        let range = try await exposureRange()
        guard range.contains(microseconds) else {
            throw LabvisorError.invalidArgument(
                "exposure", "\(microseconds) µs is outside the camera's range \(range.lowerBound)...\(range.upperBound) µs")
        }
        let mode = try await cameraControl(UVC.Request.getCurrent, try autoExposureSelector(), length: 1)
        if UInt8(mode) & (UVC.AutoExposureMode.manual | UVC.AutoExposureMode.shutterPriority) == 0 {
            try await setCameraControl(try autoExposureSelector(), value: UInt32(UVC.AutoExposureMode.manual), length: 1)
        }
        try await setCameraControl(try exposureSelector(), value: UInt32((microseconds / 100).rounded()), length: 4)
        context.publish(property: "exposure", value: .double((microseconds / 100).rounded() * 100))
    }

    /// Whether the camera's exposure mode is automatic (auto or aperture priority).
    func autoExposure() async throws -> Bool {
        let mode = UInt8(try await cameraControl(UVC.Request.getCurrent, try autoExposureSelector(), length: 1))
        return mode & (UVC.AutoExposureMode.auto | UVC.AutoExposureMode.aperturePriority) != 0
    }

    /// Switches automatic exposure on (auto mode, else aperture priority, whichever the
    /// camera's GET_RES bitmap offers) or off (manual).
    func setAutoExposure(_ on: Bool) async throws {
        let selector = try autoExposureSelector()
        var mode = UVC.AutoExposureMode.manual
        if on {
            let offered = UInt8(try await cameraControl(UVC.Request.getResolution, selector, length: 1))
            if offered & UVC.AutoExposureMode.auto != 0 {
                mode = UVC.AutoExposureMode.auto
            } else if offered & UVC.AutoExposureMode.aperturePriority != 0 {
                mode = UVC.AutoExposureMode.aperturePriority
            } else {
                throw LabvisorError(.driverFault, "the camera offers no automatic exposure mode (modes 0x\(String(offered, radix: 16)))")
            }
        }
        try await setCameraControl(selector, value: UInt32(mode), length: 1)
        context.publish(property: "autoExposure", value: .bool(on))
    }

    private func exposureSelector() throws(LabvisorError) -> UInt8 {
        try cameraSelector(UVC.CameraSelector.exposureTimeAbsolute, bit: UVC.CameraSelector.exposureTimeAbsoluteBit, "exposure time")
    }

    private func autoExposureSelector() throws(LabvisorError) -> UInt8 {
        try cameraSelector(UVC.CameraSelector.autoExposureMode, bit: UVC.CameraSelector.autoExposureModeBit, "auto-exposure mode")
    }

    private func cameraSelector(_ selector: UInt8, bit: Int, _ name: String) throws(LabvisorError) -> UInt8 {
        guard let terminal = uvc.cameraTerminal, terminal.supports(bit: bit) else {
            throw LabvisorError(
                .driverFault, "the camera's terminal has no \(name) control", fields: ["control": .string(name)])
        }
        return selector
    }

    /// A GET request on a camera terminal control: its little-endian value.
    private func cameraControl(_ request: UInt8, _ selector: UInt8, length: Int = 4) async throws -> UInt32 {
        let bytes = try await device.control(
            requestType: UVC.requestIn, request: request, value: UInt16(selector) << 8, index: cameraIndex,
            length: UInt16(length))
        guard bytes.count == length else {
            throw LabvisorError(
                .driverFault, "camera control \(selector) answered \(bytes.count) bytes instead of \(length)",
                fields: ["control": .int(Int(selector))])
        }
        return bytes.enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
    }

    private func setCameraControl(_ selector: UInt8, value: UInt32, length: Int) async throws {
        try await device.control(
            requestType: UVC.requestOut, request: UVC.Request.setCurrent, value: UInt16(selector) << 8, index: cameraIndex,
            data: (0..<length).map { UInt8(truncatingIfNeeded: value >> (8 * UInt32($0))) })
    }

    /// `wIndex` of camera terminal requests: entity id, then the VideoControl interface.
    private var cameraIndex: UInt16 {
        UInt16(uvc.cameraTerminal?.id ?? 0) << 8 | UInt16(uvc.controlInterface)
    }
}

extension UVCPixelFormat: DriverValue {}

extension ClosedRange<Double> {
    /// `{minimum, maximum}`.
    var json: JSONValue { .object(["minimum": .double(lowerBound), "maximum": .double(upperBound)]) }
}

extension String {
    /// Four lowercase hex digits.
    init(format4 value: UInt16) {
        let digits = String(value, radix: 16)
        self = String(repeating: "0", count: 4 - digits.count) + digits
    }

    /// Two hex digits (BCD bytes read as decimal digits).
    init(format2 value: UInt8) {
        let digits = String(value, radix: 16)
        self = digits.count == 1 ? "0" + digits : digits
    }
}
