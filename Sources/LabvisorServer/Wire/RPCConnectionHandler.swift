import Foundation
import LabvisorProtocol
import Logging
import NIOCore
import NIOSSL
import NIOTLS

/// One client connection: reads framed JSON-RPC requests, answers them through the
/// dispatcher, and when the connection ends, for any reason, releases what the client held.
///
/// Quick requests are answered on the event loop; calls that wait (drivers, leases) run as
/// tasks and write their responses when done, so a slow call never blocks the loop or the
/// client's other requests.
final class RPCConnectionHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let dispatcher: RPCDispatcher
    private let session: ClientSession
    private let access: ConnectionAccess
    private let registry: ConnectionRegistry
    private let maxInFlight: Int
    private let gate: WritabilityGate
    private let logger: Logger
    private struct State: Sendable {
        var inFlight = 0
        var tasks: [UInt64: Task<Void, Never>] = [:]
        /// Tasks that ended before they were recorded in `tasks`.
        var endedEarly: Set<UInt64> = []
        var nextTask: UInt64 = 0
        var inactive = false
    }

    private let state = LockedState(State())

    init(
        dispatcher: RPCDispatcher, session: ClientSession, access: ConnectionAccess, registry: ConnectionRegistry, maxInFlight: Int,
        gate: WritabilityGate, logger: Logger
    ) {
        self.dispatcher = dispatcher
        self.access = access
        self.gate = gate
        self.session = session
        self.registry = registry
        self.maxInFlight = maxInFlight
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        guard bytes.first == UInt8(ascii: "{") else {
            let reason = "parse error: a message frame must hold one JSON object (first byte \(bytes.first.map { String($0) } ?? "none"))"
            refusedBeforeAuthentication("(not JSON)", reason)
            let response = RPCDispatcher.rawError(id: nil, code: -32700, message: reason)
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.frame(response)), promise: nil)
            return
        }
        switch dispatcher.handle(bytes, from: session, access: access) {
        case .now(let response):
            if let response {
                context.writeAndFlush(wrapOutboundOut(context.channel.allocator.frame(response)), promise: nil)
            }
        case .later(let work):
            run(context: context, bytes: bytes) { (await work(), nil) }
        case .laterThen(let work):
            run(context: context, bytes: bytes, work)
        }
    }

    /// Runs `work` as a task (counted against the calls-in-flight limit), writes its response,
    /// then calls its `then`.
    private func run(
        context: ChannelHandlerContext, bytes: [UInt8],
        _ work: @escaping @Sendable () async -> (response: [UInt8]?, then: (@Sendable () -> Void)?)
    ) {
            let admitted = state.withLock { state -> UInt64? in
                guard state.inFlight < maxInFlight else { return nil }
                state.inFlight += 1
                state.nextTask += 1
                return state.nextTask
            }
            guard let key = admitted else {
                let error = LabvisorError.resourceExhausted("calls in flight per client", value: maxInFlight)
                let head = try? WireJSON.decode(RPCRequestHead.self, from: bytes)
                let response = (try? WireJSON.encode(RPCResponse<Empty>(id: head?.id, error: error))) ?? []
                context.writeAndFlush(wrapOutboundOut(context.channel.allocator.frame(response)), promise: nil)
                return
            }
            let channel = context.channel
            let request = RequestTask()
            let task = Task { [state] in
                let (response, then) = await request.run { await work() }
                // The place is free before the answer goes out: a client that has its answer may
                // send its next call at once.
                state.withLock { $0.inFlight -= 1 }
                if let response {
                    channel.writeAndFlush(channel.allocator.frame(response), promise: nil)
                }
                then?()
                state.withLock { state in
                    if state.tasks.removeValue(forKey: key) == nil { state.endedEarly.insert(key) }
                }
            }
            request.setCancel { task.cancel() }
            let cancelNow = state.withLock { state -> Bool in
                if state.endedEarly.remove(key) != nil { return false }
                state.tasks[key] = task
                return state.inactive
            }
            if cancelNow { task.cancel() }
    }

    /// A TLS handshake that verified a client certificate (a listener with a client CA
    /// requires one) identifies the connection by the certificate's common name.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted? = event as? TLSUserEvent,
            let certificate = try? context.pipeline.syncOperations.nioSSL_peerCertificate(),
            let name = certificate.subjectName.first(where: { $0.type == .commonName })?.value
        {
            access.certificateVerified(commonName: name)
            logger.debug("\(session.client): client certificate \(name)")
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        gate.set(writable: context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        let tasks = state.withLock { state in
            state.inactive = true
            return Array(state.tasks.values)
        }
        for task in tasks { task.cancel() }
        gate.close()
        registry.remove(session)
        dispatcher.refusals.closed(access, client: session.client)
        dispatcher.supervisor.disconnect(session)
        context.fireChannelInactive()
    }

    /// Audits a refusal that is not a request's answer (garbage, a TLS failure) when the
    /// connection has not authenticated.
    private func refusedBeforeAuthentication(_ what: String, _ reason: String) {
        guard !access.isAuthenticated else { return }
        dispatcher.refusals.requestRefused(access, client: session.client, action: "refused", method: what, reason: reason)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let tooLarge = error as? ByteToMessageDecoderError.PayloadTooLargeError {
            logger.warning("closing \(session.client): \(tooLarge)")
        } else if let tooLarge = error as? LengthPrefixedFrameDecoder.FrameTooLarge {
            let error = LabvisorError.resourceExhausted("message size in bytes", value: tooLarge.limit)
            let response = (try? WireJSON.encode(RPCResponse<Empty>(id: nil, error: error))) ?? []
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.frame(response)), promise: nil)
            logger.warning("closing \(session.client): a frame of \(tooLarge.size) bytes exceeds \(tooLarge.limit)")
            refusedBeforeAuthentication("(message too large)", "a frame of \(tooLarge.size) bytes exceeds \(tooLarge.limit): the connection is closed")
        } else if let tls = error as? NIOSSLError, case .handshakeFailed = tls {
            logger.info("closing \(session.client): TLS handshake failed: \(tls)")
            refusedBeforeAuthentication("(TLS handshake)", "the TLS handshake failed: \(tls)")
        } else {
            logger.debug("closing \(session.client): \(error)")
        }
        context.close(promise: nil)
    }
}

/// The connected clients, for limits and status.
final class ConnectionRegistry: Sendable {
    private let sessions = LockedState<[UInt64: ClientSession]>([:])
    private let nextID = LockedState<UInt64>(0)

    /// A new client id.
    func makeID() -> UInt64 {
        nextID.withLock {
            $0 += 1
            return $0
        }
    }

    /// Adds `session` unless `limit` clients are connected.
    func add(_ session: ClientSession, limit: Int) -> Bool {
        sessions.withLock { sessions in
            guard sessions.count < limit else { return false }
            sessions[session.client.id] = session
            return true
        }
    }

    func remove(_ session: ClientSession) {
        _ = sessions.withLock { $0.removeValue(forKey: session.client.id) }
    }

    var count: Int { sessions.withLock { $0.count } }
}
