import Foundation
import LabvisorClient

/// Frames as binary PGM images (`P5`, netpbm): `GREY` as 8-bit (maxval 255), `Y16` as 16-bit
/// big-endian (maxval 65535, as PGM requires; the wire's Y16 is little-endian), and `YUY2` as
/// its luma plane (the Y bytes, 8-bit). Other formats cannot be written.
enum PortableGraymap {
    /// The PGM file of `frame`.
    ///
    /// - Throws: `invalidArgument` naming `format` for a format PGM cannot hold.
    static func encode(_ frame: StreamFrame) throws(LabvisorError) -> [UInt8] {
        let pixels = frame.width * frame.height
        let (maxValue, samples): (Int, [UInt8])
        switch frame.format {
        case "GREY" where frame.bytes.count == pixels:
            (maxValue, samples) = (255, frame.bytes)
        case "Y16" where frame.bytes.count == 2 * pixels:
            var swapped = frame.bytes
            for index in stride(from: 0, to: swapped.count, by: 2) { swapped.swapAt(index, index + 1) }
            (maxValue, samples) = (65535, swapped)
        case "YUY2" where frame.bytes.count == 2 * pixels:
            (maxValue, samples) = (255, stride(from: 0, to: frame.bytes.count, by: 2).map { frame.bytes[$0] })
        default:
            throw LabvisorError.invalidArgument(
                "format", "frame \(frame.sequence) is \(frame.format) with \(frame.bytes.count) bytes for \(frame.width)x\(frame.height): PGM holds GREY, Y16 and the luma of YUY2")
        }
        return Array("P5\n\(frame.width) \(frame.height)\n\(maxValue)\n".utf8) + samples
    }

    /// Where frame `index` (from 1) of `count` goes: `path` itself for a single frame, else
    /// `path` without its `.pgm` extension, `-`, four digits and `.pgm` (`shot-0001.pgm`).
    static func path(_ path: String, index: Int, count: Int) -> String {
        guard count > 1 else { return path }
        let base = path.hasSuffix(".pgm") ? String(path.dropLast(4)) : path
        let number = String(index)
        return base + "-" + String(repeating: "0", count: max(0, 4 - number.count)) + number + ".pgm"
    }
}
