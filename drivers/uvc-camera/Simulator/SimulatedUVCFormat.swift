/// A format and frame size the simulated camera offers, with its test pattern.
///
/// Frame `n` (counted from 0 at every commit) is, row `y` at byte or pixel `i`:
/// - `GREY` (Y800, 8 bit) and `YUY2` (taken as bytes): byte `(i + y + n) mod 256`;
/// - `Y16` (16 bit little-endian): pixel `(i + y + n) mod 65536`.
public struct SimulatedUVCFormat: Sendable, Hashable {
    /// The FourCC of the format GUID ("Y800", "Y16 ", "YUY2").
    public var fourCC: String
    /// Bits per pixel.
    public var bitsPerPixel: Int
    /// Size in pixels.
    public var width: Int
    public var height: Int
    /// The discrete frame intervals it offers (100 ns units), the first being the default.
    public var intervals: [UInt32]

    /// Creates a format entry.
    public init(fourCC: String, bitsPerPixel: Int, width: Int, height: Int, intervals: [UInt32]) {
        self.fourCC = fourCC
        self.bitsPerPixel = bitsPerPixel
        self.width = width
        self.height = height
        self.intervals = intervals
    }

    /// Bytes of one frame.
    public var frameSize: Int { width * height * bitsPerPixel / 8 }

    /// Bytes of one row.
    var rowSize: Int { width * bitsPerPixel / 8 }

    /// Whether the pattern counts 16-bit pixels (`Y16`) rather than bytes.
    var isSixteenBit: Bool { fourCC == "Y16 " }

    /// The ramp rows are cut from: each row is `ramp[start(row)..<start(row) + rowSize]`.
    func makeRamp() -> [UInt8] {
        if isSixteenBit {
            return (0..<(width + 65536)).flatMap { value in
                [UInt8(truncatingIfNeeded: value), UInt8(truncatingIfNeeded: value >> 8)]
            }
        }
        return (0..<(rowSize + 256)).map { UInt8(truncatingIfNeeded: $0) }
    }

    /// Where row `y` of frame `n` starts in the ramp.
    func rampStart(row y: Int, frame n: Int) -> Int {
        isSixteenBit ? 2 * ((y + n) & 0xffff) : (y + n) & 0xff
    }

    /// Frame `n`, byte for byte, as the camera sends it.
    public func expectedFrame(_ n: Int) -> [UInt8] {
        let ramp = makeRamp()
        var frame: [UInt8] = []
        frame.reserveCapacity(frameSize)
        for y in 0..<height {
            let start = rampStart(row: y, frame: n)
            frame.append(contentsOf: ramp[start..<(start + rowSize)])
        }
        return frame
    }
}
