import LabvisorDriverKit

/// The uncompressed pixel formats this driver streams, by the GUID of their
/// `VS_FORMAT_UNCOMPRESSED` descriptor (UVC 1.1 "Payload Uncompressed", 2.2, and the
/// Microsoft FourCC GUIDs `XXXXXXXX-0000-0010-8000-00AA00389B71`).
public enum UVCPixelFormat: String, Sendable, Hashable, CaseIterable {
    /// 8-bit grey (`Y800`; V4L2 calls it GREY).
    case grey = "GREY"
    /// 16-bit grey, little-endian (`Y16 `).
    case grey16 = "Y16"
    /// YUV 4:2:2, Y0 U Y1 V (`YUY2`).
    case yuy2 = "YUY2"

    /// Recognises the 16-byte GUID of a format descriptor; `nil` for other formats.
    init?(guid: some Collection<UInt8>) {
        let bytes = Array(guid)
        guard bytes.count == 16, Array(bytes[4...]) == UVCPixelFormat.guidTail else { return nil }
        guard let match = UVCPixelFormat.allCases.first(where: { $0.fourCC == Array(bytes[0..<4]) }) else { return nil }
        self = match
    }

    /// The FourCC that starts the GUID.
    var fourCC: [UInt8] {
        switch self {
        case .grey: Array("Y800".utf8)
        case .grey16: Array("Y16 ".utf8)
        case .yuy2: Array("YUY2".utf8)
        }
    }

    /// The GUID as it appears in the descriptor.
    var guid: [UInt8] { fourCC + UVCPixelFormat.guidTail }

    /// Bytes per pixel.
    public var bytesPerPixel: Int {
        switch self {
        case .grey: 1
        case .grey16, .yuy2: 2
        }
    }

    /// `-0000-0010-8000-00AA00389B71`, little-endian where the GUID's fields are.
    private static let guidTail: [UInt8] = [0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71]
}
