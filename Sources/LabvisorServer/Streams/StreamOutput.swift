import LabvisorProtocol
import NIOCore

/// Where a connection's stream messages go: binary frames and JSON notifications, written
/// without waiting for them to reach the socket, and a wait for the socket to take data.
protocol StreamOutput: Sendable {
    /// Returns when the connection takes data.
    ///
    /// - Throws: `closed` when it ended; `LabvisorError.cancelled` when the task is cancelled.
    func waitUntilWritable() async throws
    /// Queues a binary message: the encoded JSON `header`, then `payload` as it is.
    func writeBinary(header: [UInt8], payload: OutgoingFrame)
    /// Queues a JSON message.
    func writeMessage(_ message: [UInt8])
}

/// A SwiftNIO channel as a `StreamOutput`. The frame's payload buffer is shared by every
/// subscriber and written as a second buffer after the head in one flush (a gathering
/// write), so it is not copied to join them.
struct ChannelStreamOutput: StreamOutput {
    let channel: any Channel
    let gate: WritabilityGate

    func waitUntilWritable() async throws {
        try await gate.waitUntilWritable()
    }

    func writeBinary(header: [UInt8], payload: OutgoingFrame) {
        let body = payload.payload(channel.allocator)
        let head = BinaryMessage.head(header: header, payloadCount: body.readableBytes, allocator: channel.allocator)
        let channel = self.channel
        channel.eventLoop.execute {
            channel.write(head, promise: nil)
            channel.writeAndFlush(body, promise: nil)
        }
    }

    func writeMessage(_ message: [UInt8]) {
        channel.writeAndFlush(channel.allocator.frame(message), promise: nil)
    }
}
