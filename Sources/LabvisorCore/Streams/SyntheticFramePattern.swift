/// A deterministic test image, so the whole path of a frame (driver, daemon, wire, client)
/// can be checked byte for byte without a camera: the sample at column `x` of row `y` of
/// frame number `sequence` is `(x + 3 y + 5 sequence) mod 2^b`.
///
/// A sample is one byte for `GREY` and `YUY2` (b = 8, `x` counts the bytes of a row) and one
/// 16-bit little-endian value for `Y16` (b = 16). The daemon's loopback instrument streams it.
public struct SyntheticFramePattern: Sendable, Hashable {
    /// The formats it can draw.
    public static let formats = ["GREY", "Y16", "YUY2"]

    /// Pixels per row.
    public let width: Int
    /// Rows.
    public let height: Int
    /// `GREY`, `Y16` or `YUY2`.
    public let format: String
    /// Bytes per pixel of `format`.
    public let bytesPerPixel: Int

    /// A pattern of `width` × `height` pixels of `format`.
    ///
    /// - Throws: `invalidArgument` naming `format` when it is not one of `formats`, or
    ///   `width` when the size is not positive.
    public init(width: Int, height: Int, format: String) throws(LabvisorError) {
        guard let bytesPerPixel = Self.bytesPerPixel(of: format) else {
            throw LabvisorError.invalidArgument("format", "the test pattern comes in \(Self.formats.joined(separator: ", ")), not \(format)")
        }
        guard width > 0, height > 0 else {
            throw LabvisorError.invalidArgument("width", "the frame size must be positive, got \(width)x\(height)")
        }
        self.width = width
        self.height = height
        self.format = format
        self.bytesPerPixel = bytesPerPixel
    }

    /// Bytes per pixel of one of `formats`; `nil` for another format.
    public static func bytesPerPixel(of format: String) -> Int? {
        switch format {
        case "GREY": 1
        case "Y16", "YUY2": 2
        default: nil
        }
    }

    /// Bytes of one frame.
    public var frameSize: Int { width * height * bytesPerPixel }

    private var sixteenBit: Bool { format == "Y16" }
    private var samplesPerRow: Int { sixteenBit ? width : width * bytesPerPixel }

    /// The sample at column `x`, row `y` of frame `sequence`.
    public func sample(x: Int, y: Int, sequence: UInt64) -> Int {
        let modulus = sixteenBit ? 1 << 16 : 1 << 8
        return (x + 3 * y + Int(sequence % UInt64(modulus)) * 5) % modulus
    }

    /// The bytes of frame `sequence`. Each row is a slice of one ramp, so drawing costs about
    /// a copy of the frame.
    public func bytes(sequence: UInt64) -> [UInt8] {
        let modulus = sixteenBit ? 1 << 16 : 1 << 8
        let sampleSize = sixteenBit ? 2 : 1
        let rowSamples = samplesPerRow
        // ramp[i] = i mod 2^b for i in 0 ..< modulus + rowSamples: row y starts at (3y + 5s) mod 2^b.
        let rampCount = modulus + rowSamples
        var ramp = [UInt8](repeating: 0, count: rampCount * sampleSize)
        ramp.withUnsafeMutableBufferPointer { ramp in
            for index in 0..<rampCount {
                let value = index & (modulus - 1)  // masks: modulus is a power of two
                if sampleSize == 2 {
                    ramp[2 * index] = UInt8(value & 0xFF)
                    ramp[2 * index + 1] = UInt8(value >> 8)
                } else {
                    ramp[index] = UInt8(value)
                }
            }
        }
        let rowBytes = rowSamples * sampleSize
        let start = Int(sequence % UInt64(modulus)) * 5
        return [UInt8](unsafeUninitializedCapacity: rowBytes * height) { buffer, count in
            ramp.withUnsafeBufferPointer { ramp in
                for y in 0..<height {
                    let offset = ((3 * y + start) & (modulus - 1)) * sampleSize
                    (buffer.baseAddress! + y * rowBytes).update(from: ramp.baseAddress! + offset, count: rowBytes)
                }
            }
            count = rowBytes * height
        }
    }

    /// Whether `bytes` is exactly frame `sequence`.
    public func matches(_ bytes: [UInt8], sequence: UInt64) -> Bool {
        bytes == self.bytes(sequence: sequence)
    }
}
