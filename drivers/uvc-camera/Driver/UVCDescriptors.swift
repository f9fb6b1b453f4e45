import LabvisorDriverKit

/// One frame size of a format (`VS_FRAME_UNCOMPRESSED`, UVC 1.1 3.9.2.6 and the
/// uncompressed payload specification, 3.1.2).
public struct UVCFrameSize: Sendable, Hashable {
    /// `bFrameIndex` (from 1), what probe/commit names.
    public var index: UInt8
    /// `wWidth`, `wHeight` in pixels.
    public var width: Int
    public var height: Int
    /// `dwMaxVideoFrameBufferSize` in bytes.
    public var maxFrameBufferSize: Int
    /// `dwDefaultFrameInterval`, in 100 ns units.
    public var defaultInterval: UInt32
    /// The discrete frame intervals (100 ns units), or for a continuous range its minimum,
    /// maximum and step.
    public var intervals: [UInt32]
    /// Whether `intervals` is a continuous range (`bFrameIntervalType` 0).
    public var continuousIntervals: Bool
}

/// An uncompressed format of a streaming interface (`VS_FORMAT_UNCOMPRESSED`).
public struct UVCFormat: Sendable, Hashable {
    /// `bFormatIndex` (from 1), what probe/commit names.
    public var index: UInt8
    /// The pixel format its GUID names.
    public var pixelFormat: UVCPixelFormat
    /// `bBitsPerPixel`.
    public var bitsPerPixel: Int
    /// `bDefaultFrameIndex`.
    public var defaultFrameIndex: UInt8
    /// Its frame sizes.
    public var frames: [UVCFrameSize]
}

/// A VideoStreaming interface: its endpoint and its formats (from `VS_INPUT_HEADER` and the
/// format and frame descriptors after it).
public struct UVCStreamingInterface: Sendable, Hashable {
    /// `bInterfaceNumber`.
    public var number: UInt8
    /// `bEndpointAddress` of the video data endpoint.
    public var endpoint: UInt8
    /// Whether the endpoint is bulk (alternate setting 0 streams) rather than isochronous.
    public var isBulk: Bool
    /// The uncompressed formats this driver knows (others, such as MJPEG, are left out).
    public var formats: [UVCFormat]
}

/// The camera terminal of the VideoControl interface (an `ITT_CAMERA` input terminal).
public struct UVCCameraTerminal: Sendable, Hashable {
    /// `bTerminalID`: the entity id control requests address.
    public var id: UInt8
    /// `bmControls`: bit `n` set when control `n` is supported.
    public var controls: [UInt8]

    /// Whether `bmControls` bit `bit` is set.
    func supports(bit: Int) -> Bool {
        bit / 8 < controls.count && controls[bit / 8] & (1 << UInt8(bit % 8)) != 0
    }
}

/// What a UVC device's descriptors say: the VideoControl interface (its UVC version and
/// camera terminal) and the VideoStreaming interfaces.
public struct UVCDeviceDescription: Sendable, Hashable {
    /// The VideoControl interface number (control requests go to it).
    public var controlInterface: UInt8
    /// `bcdUVC` (0x0110 for UVC 1.1): decides the probe/commit structure's length.
    public var uvcVersion: UInt16
    /// The camera terminal, when the device has one.
    public var cameraTerminal: UVCCameraTerminal?
    /// The streaming interfaces, in descriptor order.
    public var streaming: [UVCStreamingInterface]

    /// Reads the class-specific descriptors of `configuration`.
    ///
    /// - Throws: `driverFault` when there is no VideoControl interface, no VC header, or a
    ///   descriptor is malformed (naming it).
    public init(configuration: USBConfigurationInfo) throws(LabvisorError) {
        var control: (number: UInt8, version: UInt16, camera: UVCCameraTerminal?)?
        var streaming: [UVCStreamingInterface] = []
        for interface in configuration.interfaces {
            guard let setting = interface.alternateSettings.first, setting.interfaceClass == UVC.videoClass else { continue }
            let descriptors = try Self.split(setting.extra, interface: setting.interfaceNumber)
            switch setting.interfaceSubclass {
            case UVC.controlSubclass:
                control = try Self.control(descriptors, interface: setting.interfaceNumber)
            case UVC.streamingSubclass:
                let isochronous = interface.alternateSettings.contains { alt in
                    alt.endpoints.contains { $0.transferType == .isochronous }
                }
                streaming.append(try Self.streaming(descriptors, interface: setting.interfaceNumber, isBulk: !isochronous))
            default:
                continue
            }
        }
        guard let control else {
            throw LabvisorError(.driverFault, "the USB device has no UVC VideoControl interface with a VC_HEADER descriptor")
        }
        controlInterface = control.number
        uvcVersion = control.version
        cameraTerminal = control.camera
        self.streaming = streaming
    }

    /// The class-specific descriptors of an interface, each `[bLength, CS_INTERFACE, subtype, ...]`.
    static func split(_ bytes: [UInt8], interface: UInt8) throws(LabvisorError) -> [[UInt8]] {
        var descriptors: [[UInt8]] = []
        var offset = 0
        while offset < bytes.count {
            let length = Int(bytes[offset])
            guard length >= 2, offset + length <= bytes.count else {
                throw malformed("a class-specific descriptor of interface \(interface) at byte \(offset) has length \(length)")
            }
            if bytes[offset + 1] == UVC.classInterfaceDescriptor, length >= 3 {
                descriptors.append(Array(bytes[offset..<(offset + length)]))
            }
            offset += length
        }
        return descriptors
    }

    private static func control(
        _ descriptors: [[UInt8]], interface: UInt8
    ) throws(LabvisorError) -> (number: UInt8, version: UInt16, camera: UVCCameraTerminal?) {
        var version: UInt16?
        var camera: UVCCameraTerminal?
        for descriptor in descriptors {
            switch descriptor[2] {
            case UVC.ControlSubtype.header:
                guard descriptor.count >= 12 else { throw malformed("VC_HEADER of interface \(interface) is \(descriptor.count) bytes") }
                version = le16(descriptor, 3)
            case UVC.ControlSubtype.inputTerminal where descriptor.count >= 8 && le16(descriptor, 4) == UVC.cameraTerminalType:
                guard descriptor.count >= 15, descriptor.count >= 15 + Int(descriptor[14]) else {
                    throw malformed("the camera terminal of interface \(interface) is \(descriptor.count) bytes")
                }
                camera = UVCCameraTerminal(id: descriptor[3], controls: Array(descriptor[15..<(15 + Int(descriptor[14]))]))
            default:
                continue
            }
        }
        guard let version else { throw malformed("VideoControl interface \(interface) has no VC_HEADER") }
        return (interface, version, camera)
    }

    private static func streaming(_ descriptors: [[UInt8]], interface: UInt8, isBulk: Bool) throws(LabvisorError) -> UVCStreamingInterface {
        var endpoint: UInt8?
        var formats: [UVCFormat] = []
        var current: UVCFormat?
        for descriptor in descriptors {
            switch descriptor[2] {
            case UVC.StreamingSubtype.inputHeader:
                guard descriptor.count >= 13 else { throw malformed("VS_INPUT_HEADER of interface \(interface) is \(descriptor.count) bytes") }
                endpoint = descriptor[6]
            case UVC.StreamingSubtype.formatUncompressed:
                guard descriptor.count >= 27 else { throw malformed("VS_FORMAT_UNCOMPRESSED of interface \(interface) is \(descriptor.count) bytes") }
                if let current { formats.append(current) }
                current = UVCPixelFormat(guid: descriptor[5..<21]).map { pixelFormat in
                    UVCFormat(
                        index: descriptor[3], pixelFormat: pixelFormat, bitsPerPixel: Int(descriptor[21]),
                        defaultFrameIndex: descriptor[22], frames: [])
                }
            case UVC.StreamingSubtype.frameUncompressed:
                guard descriptor.count >= 26 else { throw malformed("VS_FRAME_UNCOMPRESSED of interface \(interface) is \(descriptor.count) bytes") }
                let type = Int(descriptor[25])
                let count = type == 0 ? 3 : type
                guard descriptor.count >= 26 + 4 * count else {
                    throw malformed("VS_FRAME_UNCOMPRESSED \(descriptor[3]) of interface \(interface) lists \(count) intervals in \(descriptor.count) bytes")
                }
                current?.frames.append(
                    UVCFrameSize(
                        index: descriptor[3], width: Int(le16(descriptor, 5)), height: Int(le16(descriptor, 7)),
                        maxFrameBufferSize: Int(le32(descriptor, 17)), defaultInterval: le32(descriptor, 21),
                        intervals: (0..<count).map { le32(descriptor, 26 + 4 * $0) }, continuousIntervals: type == 0))
            default:
                // Other formats end the current one (their frames are not ours).
                if let current { formats.append(current) }
                current = nil
            }
        }
        if let current { formats.append(current) }
        guard let endpoint else { throw malformed("VideoStreaming interface \(interface) has no VS_INPUT_HEADER") }
        return UVCStreamingInterface(number: interface, endpoint: endpoint, isBulk: isBulk, formats: formats)
    }

    private static func malformed(_ what: String) -> LabvisorError {
        LabvisorError(.driverFault, "malformed UVC descriptors: \(what)", fields: ["reason": "descriptor"])
    }
}

/// Little-endian fields of descriptors and control structures.
func le16(_ bytes: [UInt8], _ offset: Int) -> UInt16 {
    UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
}

func le32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
    (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << (8 * UInt32($1)) }
}

func putLE(_ value: some FixedWidthInteger, into bytes: inout [UInt8], at offset: Int) {
    for index in 0..<(value.bitWidth / 8) {
        bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * index))
    }
}
