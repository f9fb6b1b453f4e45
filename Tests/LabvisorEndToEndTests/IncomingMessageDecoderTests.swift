import LabvisorProtocol
import NIOCore
import NIOEmbedded
import Testing

@testable import LabvisorClient

/// The client's framing: JSON messages, small binary messages and large binary messages
/// (filled straight into their payload array) come out whole and in order, however the
/// bytes are cut into reads.
@Suite struct IncomingMessageDecoderTests {
    /// What a decoded message is, for comparing.
    enum Seen: Equatable {
        case json([UInt8])
        case binary(header: [UInt8], payload: [UInt8])
    }

    /// Collects the decoder's output.
    final class Collector: ChannelInboundHandler, @unchecked Sendable {
        // Only touched on the EmbeddedChannel's thread (the test's own): no concurrency.
        typealias InboundIn = IncomingMessage
        var seen: [Seen] = []
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .json(let buffer): seen.append(.json(Array(buffer.readableBytesView)))
            case .binary(let header, let payload): seen.append(.binary(header: Array(header.readableBytesView), payload: payload))
            }
        }
    }

    func binaryFrame(header: [UInt8], payload: [UInt8]) -> [UInt8] {
        var head = BinaryMessage.head(header: header, payloadCount: payload.count, allocator: ByteBufferAllocator())
        return Array(head.readBytes(length: head.readableBytes)!) + payload
    }

    @Test func messagesComeOutWholeHoweverTheReadsCutThem() throws {
        var generator = SystemRandomNumberGenerator()
        let large = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        let small = (0..<1_000).map { UInt8(truncatingIfNeeded: $0) }
        let header = Array(#"{"jsonrpc":"2.0","method":"stream.frame","params":{"bytes":100000}}"#.utf8)
        var stream: [UInt8] = []
        var expected: [Seen] = []
        for round in 0..<3 {
            let json = Array(#"{"jsonrpc":"2.0","id":\#(round),"result":{}}"#.utf8)
            var framed: [UInt8] = []
            Framing.appendFrame(to: &framed) { $0.append(contentsOf: json) }
            stream += framed
            expected.append(.json(json))
            stream += binaryFrame(header: header, payload: large)
            expected.append(.binary(header: header, payload: large))
            // A small binary message is passed on whole, as JSON messages are.
            let smallFrame = binaryFrame(header: Array("{}".utf8), payload: small)
            stream += smallFrame
            expected.append(.json(Array(smallFrame.dropFirst(Framing.lengthSize))))
        }
        for cut in [13, 4096, 65_536, 1 << 20, -1] {
            let collector = Collector()
            let channel = EmbeddedChannel(handlers: [ByteToMessageHandler(IncomingMessageDecoder()), collector])
            var offset = 0
            while offset < stream.count {
                let size = cut > 0 ? cut : Int.random(in: 1...70_000, using: &generator)
                let end = min(stream.count, offset + size)
                try channel.writeInbound(ByteBuffer(bytes: stream[offset..<end]))
                offset = end
            }
            #expect(collector.seen == expected, "reads of \(cut) bytes")
            _ = try channel.finish()
        }
    }

    @Test func aFrameOverTheLimitIsRefused() throws {
        let channel = EmbeddedChannel(handlers: [ByteToMessageHandler(IncomingMessageDecoder(maxFrameSize: 1_000))])
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(1_001))
        #expect(throws: LengthPrefixedFrameDecoder.FrameTooLarge.self) { try channel.writeInbound(buffer) }
        _ = try? channel.finish()
    }
}
