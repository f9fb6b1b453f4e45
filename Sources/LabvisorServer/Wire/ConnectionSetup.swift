import LabvisorProtocol
import Logging
import NIOCore

/// What every new wire connection gets, whatever its transport: a client session in the
/// supervisor, a place in the connection registry (or a `resourceExhausted` answer and a close
/// when the daemon is full), the frame decoder and the connection handler.
struct ConnectionSetup: Sendable {
    let supervisor: Supervisor
    let registry: ConnectionRegistry
    let dispatcher: RPCDispatcher
    let limits: RPCServer.Limits
    let logger: Logger

    /// Sets up `channel` (on its event loop) for the peer `peer` with its `access`.
    func add(_ channel: any Channel, peer: (name: String, uid: UInt32?, pid: Int32?), access: ConnectionAccess) throws {
        let gate = WritabilityGate(connection: peer.name)
        let session = supervisor.connect(
            ClientRef(id: registry.makeID(), name: peer.name, uid: peer.uid, pid: peer.pid),
            send: { message in
                // Completes once the bytes are in the socket: a client that does not read holds up
                // only its own notifications, whose buffers are bounded.
                try await channel.writeAndFlush(ByteBuffer(bytes: message)).get()
            },
            output: ChannelStreamOutput(channel: channel, gate: gate))
        guard registry.add(session, limit: limits.clients) else {
            let error = LabvisorError.resourceExhausted("connected clients", value: limits.clients)
            dispatcher.refusals.connectionRefused(peer: peer.name, reason: error.message)
            let response = (try? WireJSON.encode(RPCResponse<Empty>(id: nil, error: error))) ?? []
            channel.writeAndFlush(channel.allocator.frame(response)).whenComplete { _ in channel.close(promise: nil) }
            return
        }
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LengthPrefixedFrameDecoder(maxFrameSize: limits.frameSize)))
        try channel.pipeline.syncOperations.addHandler(
            RPCConnectionHandler(
                dispatcher: dispatcher, session: session, access: access, registry: registry, maxInFlight: limits.callsInFlight,
                gate: gate, logger: logger))
    }
}
