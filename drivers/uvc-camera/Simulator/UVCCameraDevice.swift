import LabvisorSimulation

/// The device side of a USB Video Class camera, for a `SimulatedUSBDevice` under umockdev:
/// its descriptors (`descriptors`), the probe/commit negotiation, the camera terminal's
/// exposure controls, and bulk IN video payloads.
///
/// Streaming: after a commit, every IN request on endpoint 0x81 gets the next payload of
/// `dwMaxPayloadTransferSize` bytes at most: a 12-byte header (FID toggling per frame, EOF on
/// a frame's last payload, PTS = frame number × frame interval in 100 ns ticks, SCR) and the
/// next bytes of the frame's test pattern (`SimulatedUVCFormat.expectedFrame`). The camera is
/// not paced: it delivers frames as fast as the host reads them. A new commit starts again
/// at frame 0. `faults` corrupt, drop or stall payloads.
///
/// Controls follow UVC 1.1: unknown requests, out-of-range values and an exposure time set
/// while the auto-exposure mode is automatic STALL, as a real camera's do.
public final class UVCCameraDevice: USBDeviceBehavior {
    /// Exposure time limits and default, in 100 µs units (0.1 ms ... 1 s).
    public static let exposureMinimum: UInt32 = 1
    public static let exposureMaximum: UInt32 = 10_000
    public static let exposureDefault: UInt32 = 166
    /// Auto-exposure modes offered: manual (0x01) and aperture priority (0x08), as most webcams.
    public static let autoExposureModes: UInt8 = 0x09

    /// The formats offered, in descriptor order.
    public let formats: [SimulatedUVCFormat]
    /// The descriptors, for `SimulatedUSBDevice`.
    public let descriptors: SimulatedUSBDescriptors
    /// Bytes per payload (header included) the camera proposes as `dwMaxPayloadTransferSize`.
    public let payloadSize: Int

    /// The camera's state.
    public struct State: Sendable {
        /// The current probe structure (34 bytes).
        public var probe: [UInt8]
        /// The committed one, `nil` before a commit.
        public var committed: [UInt8]?
        /// `CT_EXPOSURE_TIME_ABSOLUTE_CONTROL`, 100 µs units.
        public var exposure = UVCCameraDevice.exposureDefault
        /// `CT_AE_MODE_CONTROL`.
        public var autoExposureMode: UInt8 = 0x08
        /// Frames begun since the commit.
        public var frameNumber = 0
        /// Payloads sent of the current frame.
        public var payloadNumber = 0
        /// Bytes of the current frame sent.
        public var offset = 0
        /// Frames completely sent since the device was made.
        public var framesSent = 0
        /// Payloads sent since the device was made.
        public var payloadsSent = 0
        /// Faults still to inject.
        public var faults: [UVCCameraFault] = []
        /// Whether the video endpoint is halted (a `stall` fault).
        public var stalled = false
        /// The payload being sent, and how much of it went.
        var payload: [UInt8] = []
        var payloadOffset = 0
        /// A payload ended exactly at a packet boundary: a zero-length packet ends it.
        var zeroLengthPacketDue = false
        /// Every SET_CUR of a probe or commit, in order (`true`: commit).
        public var negotiation: [Bool] = []
    }

    private let state: LockedState<State>
    /// The ramps of the formats, built once.
    private let ramps: [[UInt8]]

    /// A camera offering `formats` (default: GREY 640x480 and 2048x2048, Y16 2048x2048,
    /// YUY2 640x480).
    public init(
        formats: [SimulatedUVCFormat] = UVCCameraDevice.standardFormats, payloadSize: Int = 128 * 1024,
        vendorID: UInt16 = 0x1d6b, productID: UInt16 = 0x0102, serialNumber: String = "UVC-0001"
    ) {
        let ordered = UVCCameraDescriptors.groups(formats).flatMap(\.frames)
        self.formats = ordered
        self.payloadSize = payloadSize
        descriptors = UVCCameraDescriptors.make(
            formats: ordered, vendorID: vendorID, productID: productID, serialNumber: serialNumber)
        ramps = ordered.map { $0.makeRamp() }
        state = LockedState(State(probe: []))
        let first = ordered[0]
        state.withLock { $0.probe = self.probeAnswer(formatIndex: 1, frameIndex: 1, interval: first.intervals[0]) }
    }

    /// The default formats.
    public static let standardFormats: [SimulatedUVCFormat] = [
        SimulatedUVCFormat(fourCC: "Y800", bitsPerPixel: 8, width: 640, height: 480, intervals: [333_333, 666_666]),
        SimulatedUVCFormat(fourCC: "Y800", bitsPerPixel: 8, width: 2048, height: 2048, intervals: [1_000_000, 2_000_000]),
        SimulatedUVCFormat(fourCC: "Y16 ", bitsPerPixel: 16, width: 2048, height: 2048, intervals: [1_000_000, 2_000_000]),
        SimulatedUVCFormat(fourCC: "YUY2", bitsPerPixel: 16, width: 640, height: 480, intervals: [333_333]),
    ]

    /// Reads or changes the state (to inject faults, or to look at it in a test).
    public func withState<T>(_ body: (inout State) -> T) -> T { state.withLock(body) }

    /// Adds faults to inject.
    public func inject(_ faults: UVCCameraFault...) { state.withLock { $0.faults += faults } }

    /// The format the last commit chose, `nil` before one.
    public var committedFormat: SimulatedUVCFormat? {
        state.withLock { state in state.committed.flatMap { format(index: $0[2], frame: $0[3]) } }
    }

    // MARK: Control requests

    public func control(_ setup: USBControlSetup, data: [UInt8]) -> USBControlReply {
        let selector = UInt8(setup.value >> 8)
        let interface = UInt8(setup.index & 0xff)
        let entity = UInt8(setup.index >> 8)
        guard setup.requestType & 0x7f == 0x21 else { return .stall }  // class request to an interface
        if interface == UVCCameraDescriptors.streamingInterface, entity == 0 {
            return streamingControl(setup, selector: selector, data: data)
        }
        if interface == UVCCameraDescriptors.controlInterface, entity == UVCCameraDescriptors.cameraTerminalID {
            return cameraControl(setup, selector: selector, data: data)
        }
        return .stall
    }

    private func streamingControl(_ setup: USBControlSetup, selector: UInt8, data: [UInt8]) -> USBControlReply {
        guard selector == 0x01 || selector == 0x02 else { return .stall }  // VS_PROBE_CONTROL, VS_COMMIT_CONTROL
        let length = 34
        switch setup.request {
        case 0x01:  // SET_CUR
            guard data.count == length, let chosen = format(index: data[2], frame: data[3]) else { return .stall }
            let asked = UInt32(data[4]) | UInt32(data[5]) << 8 | UInt32(data[6]) << 16 | UInt32(data[7]) << 24
            let interval = chosen.intervals.min { distance($0, asked) < distance($1, asked) } ?? chosen.intervals[0]
            let answer = probeAnswer(formatIndex: data[2], frameIndex: data[3], interval: interval)
            state.withLock { state in
                state.negotiation.append(selector == 0x02)
                if selector == 0x01 {
                    state.probe = answer
                } else {
                    state.committed = answer
                    state.frameNumber = 0
                    state.payloadNumber = 0
                    state.offset = 0
                    state.stalled = false
                    state.payload = []
                    state.zeroLengthPacketDue = false
                }
            }
            return .accept
        case 0x81, 0x82, 0x83, 0x87:  // GET_CUR, GET_MIN, GET_MAX, GET_DEF
            guard setup.length >= UInt16(length) || setup.length == 26 else { return .stall }
            return state.withLock { state in
                .data(selector == 0x02 ? (state.committed ?? state.probe) : state.probe)
            }
        case 0x85:  // GET_LEN
            return .data([UInt8(length), 0])
        case 0x86:  // GET_INFO: GET and SET supported
            return .data([0x03])
        default:
            return .stall
        }
    }

    private func cameraControl(_ setup: USBControlSetup, selector: UInt8, data: [UInt8]) -> USBControlReply {
        switch (selector, setup.request) {
        case (0x02, 0x81): return .data([state.withLock { $0.autoExposureMode }])
        case (0x02, 0x84): return .data([Self.autoExposureModes])  // GET_RES: the modes offered
        case (0x02, 0x87): return .data([0x08])
        case (0x02, 0x86), (0x04, 0x86): return .data([0x03])
        case (0x02, 0x01):
            guard data.count == 1, data[0].nonzeroBitCount == 1, data[0] & Self.autoExposureModes != 0 else { return .stall }
            state.withLock { $0.autoExposureMode = data[0] }
            return .accept
        case (0x04, 0x81): return .data(UVCCameraDescriptors.le(state.withLock { $0.exposure }))
        case (0x04, 0x82): return .data(UVCCameraDescriptors.le(Self.exposureMinimum))
        case (0x04, 0x83): return .data(UVCCameraDescriptors.le(Self.exposureMaximum))
        case (0x04, 0x84): return .data(UVCCameraDescriptors.le(UInt32(1)))
        case (0x04, 0x87): return .data(UVCCameraDescriptors.le(Self.exposureDefault))
        case (0x04, 0x01):
            guard data.count == 4 else { return .stall }
            let value = UInt32(data[0]) | UInt32(data[1]) << 8 | UInt32(data[2]) << 16 | UInt32(data[3]) << 24
            return state.withLock { state in
                // In an automatic mode the exposure time belongs to the camera.
                guard state.autoExposureMode & 0x0a == 0, (Self.exposureMinimum...Self.exposureMaximum).contains(value) else {
                    return .stall
                }
                state.exposure = value
                return .accept
            }
        default:
            return .stall
        }
    }

    /// The probe structure the camera answers for a format, frame and interval.
    private func probeAnswer(formatIndex: UInt8, frameIndex: UInt8, interval: UInt32) -> [UInt8] {
        let frameSize = format(index: formatIndex, frame: frameIndex)?.frameSize ?? 0
        var bytes = [UInt8](repeating: 0, count: 34)
        bytes[0] = 0x01  // bmHint: dwFrameInterval
        bytes[2] = formatIndex
        bytes[3] = frameIndex
        bytes.replaceSubrange(4..<8, with: UVCCameraDescriptors.le(interval))
        bytes.replaceSubrange(18..<22, with: UVCCameraDescriptors.le(UInt32(frameSize)))
        bytes.replaceSubrange(22..<26, with: UVCCameraDescriptors.le(UInt32(payloadSize)))
        bytes.replaceSubrange(26..<30, with: UVCCameraDescriptors.le(UVCCameraDescriptors.clockFrequency))
        bytes[30] = 0x03  // bmFramingInfo: FID required, EOF present
        bytes[31] = 1  // bPreferedVersion, bMinVersion, bMaxVersion: payload format version 1
        bytes[32] = 1
        bytes[33] = 1
        return bytes
    }

    /// The format at descriptor format index `index` (from 1) and frame index `frame` (from 1).
    private func format(index: UInt8, frame: UInt8) -> SimulatedUVCFormat? {
        let groups = UVCCameraDescriptors.groups(formats)
        guard index >= 1, Int(index) <= groups.count else { return nil }
        let frames = groups[Int(index) - 1].frames
        guard frame >= 1, Int(frame) <= frames.count else { return nil }
        return frames[Int(frame) - 1]
    }

    private func distance(_ a: UInt32, _ b: UInt32) -> UInt32 { a > b ? a - b : b - a }

    // MARK: Video payloads

    /// The bulk endpoint is a byte stream cut into payloads: each IN request gets the next
    /// bytes of the current payload (libusb splits a large transfer into 16 KiB requests), and
    /// a payload ends with a short packet, or with a zero-length one when its length is a
    /// multiple of the packet size and below `dwMaxPayloadTransferSize` (USB 2.0 5.8.3).
    public func transferIn(endpoint: UInt8, maxLength: Int) -> USBInReply {
        guard endpoint == UVCCameraDescriptors.endpoint else { return .notReady }
        return state.withLock { state -> USBInReply in
            if state.stalled { return .stall }
            if state.zeroLengthPacketDue {
                state.zeroLengthPacketDue = false
                return .data([])
            }
            if state.payload.isEmpty {
                switch nextPayloadWithFaults(&state) {
                case .none: return .notReady
                case .some(.none):
                    state.stalled = true
                    return .stall
                case .some(.some(let payload)):
                    state.payload = payload
                    state.payloadOffset = 0
                }
            }
            let count = min(maxLength, state.payload.count - state.payloadOffset)
            let chunk = Array(state.payload[state.payloadOffset..<(state.payloadOffset + count)])
            state.payloadOffset += count
            if state.payloadOffset == state.payload.count {
                let length = state.payload.count
                state.zeroLengthPacketDue = count == maxLength && length % 512 == 0 && length < payloadSize
                state.payload = []
            }
            return .data(chunk)
        }
    }

    /// The next payload with its fault applied: `nil` when not streaming, `.some(nil)` for a
    /// stall.
    private func nextPayloadWithFaults(_ state: inout State) -> [UInt8]?? {
        guard let committed = state.committed, let format = format(index: committed[2], frame: committed[3]),
            let formatNumber = formats.firstIndex(of: format)
        else { return nil }
        let interval = Int(UInt32(committed[4]) | UInt32(committed[5]) << 8 | UInt32(committed[6]) << 16 | UInt32(committed[7]) << 24)
        while true {
            let position = UVCCameraFault.Position(frame: state.frameNumber, payload: state.payloadNumber)
            let fault = state.faults.firstIndex { $0.position == position }.map { state.faults.remove(at: $0) }
            if case .stall = fault { return .some(nil) }
            var payload = nextPayload(&state, format: format, ramp: ramps[formatNumber], room: payloadSize, interval: interval)
            switch fault {
            case .drop: continue
            case .errorBit: payload[1] |= 0x40
            case .truncate: payload.removeLast((payload.count - 12) / 2)
            case .badHeader: payload[0] = 1  // shorter than the two bytes every header has
            case .stall, nil: break
            }
            return payload
        }
    }

    /// The next payload of the stream (and the state moved past it).
    private func nextPayload(_ state: inout State, format: SimulatedUVCFormat, ramp: [UInt8], room: Int, interval: Int) -> [UInt8] {
        let frameSize = format.frameSize
        let count = min(room - 12, frameSize - state.offset)
        let last = state.offset + count == frameSize
        let time = UInt32(truncatingIfNeeded: state.frameNumber * interval)
        let frameID: UInt8 = state.frameNumber & 1 == 0 ? 0 : 1
        var payload: [UInt8] = [12, 0x80 | 0x08 | 0x04 | frameID | (last ? 0x02 : 0)]
        payload.reserveCapacity(12 + count)
        payload += UVCCameraDescriptors.le(time)
        payload += UVCCameraDescriptors.le(time) + [0, 0]  // SCR: source clock time, 1 kHz SOF counter
        var offset = state.offset
        let end = offset + count
        while offset < end {
            let row = offset / format.rowSize
            let column = offset % format.rowSize
            let take = min(format.rowSize - column, end - offset)
            let start = format.rampStart(row: row, frame: state.frameNumber) + column
            payload.append(contentsOf: ramp[start..<(start + take)])
            offset += take
        }
        state.payloadsSent += 1
        if last {
            state.framesSent += 1
            state.frameNumber += 1
            state.payloadNumber = 0
            state.offset = 0
        } else {
            state.payloadNumber += 1
            state.offset = end
        }
        return payload
    }
}
