import LabvisorDriverKit

/// Numbers of the USB Video Class specification (UVC 1.1, "Universal Serial Bus Device Class
/// Definition for Video Devices", appendix A) that this driver uses.
enum UVC {
    /// `bInterfaceClass` of video interfaces.
    static let videoClass: UInt8 = 0x0e
    /// `bInterfaceSubClass`: VideoControl, VideoStreaming.
    static let controlSubclass: UInt8 = 0x01
    static let streamingSubclass: UInt8 = 0x02

    /// `bDescriptorType` of class-specific interface descriptors (CS_INTERFACE).
    static let classInterfaceDescriptor: UInt8 = 0x24

    /// VideoControl descriptor subtypes (A.5).
    enum ControlSubtype {
        static let header: UInt8 = 0x01
        static let inputTerminal: UInt8 = 0x02
        static let outputTerminal: UInt8 = 0x03
    }

    /// VideoStreaming descriptor subtypes (A.6).
    enum StreamingSubtype {
        static let inputHeader: UInt8 = 0x01
        static let formatUncompressed: UInt8 = 0x04
        static let frameUncompressed: UInt8 = 0x05
    }

    /// `wTerminalType` of a camera sensor input terminal (ITT_CAMERA).
    static let cameraTerminalType: UInt16 = 0x0201

    /// Class-specific request codes (A.8).
    enum Request {
        static let setCurrent: UInt8 = 0x01
        static let getCurrent: UInt8 = 0x81
        static let getMinimum: UInt8 = 0x82
        static let getMaximum: UInt8 = 0x83
        static let getResolution: UInt8 = 0x84
        static let getInfo: UInt8 = 0x86
        static let getDefault: UInt8 = 0x87
    }

    /// `bmRequestType` of class requests to an interface or entity: host-to-device, device-to-host.
    static let requestOut: UInt8 = 0x21
    static let requestIn: UInt8 = 0xa1

    /// VideoStreaming interface control selectors (A.9.7).
    enum StreamingSelector {
        static let probe: UInt8 = 0x01
        static let commit: UInt8 = 0x02
    }

    /// Camera terminal control selectors (A.9.4) and their `bmControls` bits (3.7.2.3).
    enum CameraSelector {
        static let autoExposureMode: UInt8 = 0x02
        static let exposureTimeAbsolute: UInt8 = 0x04
        static let autoExposureModeBit = 1
        static let exposureTimeAbsoluteBit = 3
    }

    /// `CT_AE_MODE_CONTROL` values (4.2.2.1.2): one bit each.
    enum AutoExposureMode {
        static let manual: UInt8 = 0x01
        static let auto: UInt8 = 0x02
        static let shutterPriority: UInt8 = 0x04
        static let aperturePriority: UInt8 = 0x08
    }
}
