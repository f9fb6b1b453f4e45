import LabvisorProtocol
import NIOCore
import Testing

@Suite("BinaryMessageTests")
struct BinaryMessageTests {
    @Test func headAndPayloadMakeOneFrameThatSplitsBack() throws {
        let header = try BinaryMessage.header(
            method: StreamFrameNotification.name, params: StreamFrameNotification.exampleParams)
        let payload: [UInt8] = [0, 1, 2, 0xFF, 0x7B]
        var frame = BinaryMessage.head(header: header, payloadCount: payload.count, allocator: ByteBufferAllocator())
        frame.writeBytes(payload)
        #expect(frame.readInteger(as: UInt32.self) == UInt32(frame.readableBytes), "the length prefix counts the rest")
        #expect(frame.getInteger(at: frame.readerIndex, as: UInt8.self) == Framing.binaryMarker)
        let (headerBytes, payloadBytes) = try BinaryMessage.split(frame)
        #expect(Array(headerBytes.readableBytesView) == header)
        #expect(Array(payloadBytes.readableBytesView) == payload)
        #expect(header.first == UInt8(ascii: "{"))
    }

    @Test func aFrameWithoutTheMarkerOrWithAShortHeaderIsRefused() {
        var json = ByteBufferAllocator().buffer(capacity: 8)
        json.writeString("{\"a\":1}")
        #expect(throws: LabvisorError.self) { try BinaryMessage.split(json) }
        var short = ByteBufferAllocator().buffer(capacity: 8)
        short.writeInteger(Framing.binaryMarker)
        short.writeInteger(UInt32(100))
        short.writeString("{}")
        #expect(throws: LabvisorError.self) { try BinaryMessage.split(short) }
    }

    @Test(arguments: [("Y16", 300, 7), ("GREY", 129, 5), ("YUY2", 20, 3)])
    func theTestPatternDrawsWhatItsFormulaSays(format: String, width: Int, height: Int) throws {
        let pattern = try SyntheticFramePattern(width: width, height: height, format: format)
        for sequence: UInt64 in [0, 1, 70_000] {
            let bytes = pattern.bytes(sequence: sequence)
            #expect(bytes.count == width * height * pattern.bytesPerPixel)
            let rowBytes = width * pattern.bytesPerPixel
            for y in 0..<height {
                for column in stride(from: 0, to: format == "Y16" ? width : rowBytes, by: 1) {
                    let expected = pattern.sample(x: column, y: y, sequence: sequence)
                    let actual = format == "Y16"
                        ? Int(bytes[y * rowBytes + 2 * column]) | Int(bytes[y * rowBytes + 2 * column + 1]) << 8
                        : Int(bytes[y * rowBytes + column])
                    if actual != expected {
                        Issue.record("\(format) frame \(sequence) at (\(column), \(y)): \(actual) instead of \(expected)")
                        return
                    }
                }
            }
        }
        #expect(throws: LabvisorError.self) { try SyntheticFramePattern(width: 4, height: 4, format: "MJPG") }
    }
}
