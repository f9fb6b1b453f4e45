import Foundation
import LabvisorProtocol
import NIOCore
import NIOPosix
import NIOSSL

/// One connection to `labvisord`: framed JSON-RPC requests, answered in any order and
/// matched by id. Safe to use from many tasks at once. When the connection ends, pending and
/// later requests fail with `unavailable`; leases it held are released by the daemon.
public final class LabvisorConnection: Sendable {
    /// Where it is connected.
    public let endpoint: Endpoint
    private let channel: any Channel
    private let pending: PendingRequests
    let frames: FrameRouter
    /// Runs the tasks of `withAffinity(_:)` on the channel's event loop.
    let executor: EventLoopTaskExecutor

    private init(endpoint: Endpoint, channel: any Channel, pending: PendingRequests, frames: FrameRouter) {
        self.endpoint = endpoint
        self.channel = channel
        self.pending = pending
        self.frames = frames
        self.executor = EventLoopTaskExecutor(channel.eventLoop)
    }

    /// Runs `body` in the calling task with this connection's event loop as its preferred
    /// executor: requests are written from the loop's thread and their responses resume the
    /// caller there, one thread wake-up per call instead of three. For a loop of calls that
    /// wait on each other (a scan, a poll).
    ///
    /// `body` shares the thread with the socket's reads and writes (and with other
    /// connections on the same loop), so it must not block: no blocking system calls, no
    /// long computation. Child tasks inherit the preference; `Task.detached` does not.
    public func withAffinity<Result: Sendable>(_ body: () async throws -> Result) async rethrows -> Result {
        try await withTaskExecutorPreference(executor, operation: body)
    }

    /// Connects to `endpoint` (default: `Endpoint.fromEnvironment()`); on TCP, with
    /// `credentials` (default: `ClientCredentials.fromEnvironment()`): TLS trusting their CA,
    /// their client certificate, and their token sent as `session.authenticate` first.
    ///
    /// - Throws: `unavailable` naming the endpoint when nothing listens there or the TLS
    ///   handshake fails; `unauthenticated` for a token the daemon refuses; `invalidArgument`
    ///   for unusable certificate files.
    public static func connect(
        to endpoint: Endpoint? = nil, timeout: Duration = .seconds(5), credentials: ClientCredentials? = nil
    ) async throws -> LabvisorConnection {
        let endpoint = try endpoint ?? Endpoint.fromEnvironment()
        let credentials = credentials ?? ClientCredentials.fromEnvironment()
        let pending = PendingRequests(endpoint: endpoint)
        let frames = FrameRouter()
        let tls: (context: NIOSSLContext, serverName: String?)?
        if case .tls(let host, _) = endpoint {
            // SNI and host name checks need a name; an IP address is checked against the certificate's IP entries.
            let isAddress = (try? SocketAddress(ipAddress: host, port: 0)) != nil
            tls = (try credentials.tlsContext(), isAddress ? nil : host)
        } else {
            tls = nil
        }
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            // Reads grow up to 1 MiB for stream frames (NIO's default stops at 64 KiB: 128 reads per 8 MiB frame).
            .channelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: 1 << 20))
            .connectTimeout(.nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls.context, serverHostname: tls.serverName))
                    }
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(IncomingMessageDecoder()))
                    try channel.pipeline.syncOperations.addHandler(ResponseHandler(pending: pending, frames: frames))
                }
            }
        do {
            let channel: any Channel
            switch endpoint {
            case .unix(let path): channel = try await bootstrap.connect(unixDomainSocketPath: path).get()
            case .tcp(let host, let port), .tls(let host, let port): channel = try await bootstrap.connect(host: host, port: port).get()
            }
            let connection = LabvisorConnection(endpoint: endpoint, channel: channel, pending: pending, frames: frames)
            if case .unix = endpoint {} else if let token = credentials.token {
                do {
                    _ = try await connection.call(AuthenticateSession.self, .init(token: token), timeout: timeout)
                } catch {
                    await connection.close()
                    throw error
                }
            }
            return connection
        } catch let error as LabvisorError where error.code == .unauthenticated {
            throw error
        } catch {
            throw LabvisorError(
                .unavailable, "cannot connect to labvisord at \(endpoint): \(error) (is the daemon running? LABVISOR_URL sets where to look)",
                fields: ["endpoint": .string(endpoint.description)])
        }
    }

    /// Calls `method` and returns its result.
    ///
    /// - Parameter timeout: how long to wait for the response (the daemon applies its own
    ///   call deadlines); `nil` waits until the task is cancelled.
    /// - Throws: the daemon's error as a `LabvisorError`; `unavailable` when the connection
    ///   ends; `timeout`.
    public func call<Method: WireMethod>(_ method: Method.Type, _ params: Method.Params, timeout: Duration? = nil) async throws -> Method.Result {
        try await call(method, params, timeout: timeout, id: pending.nextID())
    }

    /// Opens a stream subscription (`stream.open`): its frames are routed to it from the
    /// first one, which follows the response at once.
    public func openStream(_ params: OpenStream.Params, timeout: Duration? = nil) async throws -> FrameSubscription {
        let id = pending.nextID()
        frames.expectOpen(requestID: id, capacity: params.queue ?? OpenStream.defaultQueue)
        do {
            let result = try await call(OpenStream.self, params, timeout: timeout, id: id)
            return FrameSubscription(connection: self, opened: result)
        } catch {
            frames.cancelExpected(requestID: id)
            throw error
        }
    }

    /// Resumes reading the socket, on the event loop, when it was held back for a full frame
    /// queue and every queue has room again.
    func resumeReadingIfRoom() {
        let channel = self.channel
        let frames = self.frames
        channel.eventLoop.execute {
            if frames.shouldResumeReading() { _ = channel.setOption(ChannelOptions.autoRead, value: true) }
        }
    }

    private func call<Method: WireMethod>(_ method: Method.Type, _ params: Method.Params, timeout: Duration?, id: Int) async throws -> Method.Result {
        // The envelope is written directly, and the params and result of the hot methods
        // (invoke, get, set, lease acquire and release) past `Codable`, as the daemon does.
        let payload = WireJSON.encodeRequest(
            id: .number(id), method: Method.name, paramsTree: try Method.tree(ofParams: params) ?? JSONValueEncoder().encode(params))
        let channel = self.channel
        let frames = self.frames
        let response = try await pending.wait(id: id, deadline: timeout.map { ContinuousClock.now + $0 }) {
            // One hop to the event loop per call (a wake-up of its thread), not one per step.
            channel.eventLoop.execute {
                channel.writeAndFlush(channel.allocator.frame(payload), promise: nil)
                // A connection held back for a full frame queue must read on to get the response.
                if frames.resumeForResponse() { _ = channel.setOption(ChannelOptions.autoRead, value: true) }
            }
        }
        if case .object(let members) = response, let tree = members["result"], members["error"] == nil,
            let result = Method.result(fromTree: tree)
        {
            return result
        }
        let decoded = try JSONValueDecoder().decode(RPCResponse<Method.Result>.self, from: response)
        if let error = decoded.error { throw error.labvisorError }
        guard let result = decoded.result else {
            throw LabvisorError(.unavailable, "the daemon's response to \(Method.name) has neither result nor error")
        }
        return result
    }

    /// Calls `receive` with each notification named `method` (`event`) from now until the
    /// connection ends, then `end` once; returns the listener's key for `stopListening`.
    /// `receive` runs on the connection's event loop, with the message already parsed: it
    /// must hand the message on and return at once.
    /// `readComplete` runs on the event loop after a read from the socket that brought
    /// notifications has been handled: a listener that keeps what `receive` got hands it on
    /// there, once per read rather than once per message.
    func listen(
        _ method: String, receive: @escaping @Sendable (IncomingNotification) -> Void, readComplete: @escaping @Sendable () -> Void,
        end: @escaping @Sendable () -> Void
    ) -> Int {
        pending.listen(NotificationListener(method: method, receive: receive, readComplete: readComplete, end: end))
    }

    /// Stops calling a listener (its `end` is not called).
    func stopListening(_ key: Int) {
        pending.stopListening(key)
    }

    /// Closes the connection (the daemon releases what it held).
    public func close() async {
        try? await channel.close()
    }
}

/// Requests waiting for their responses, by id.
final class PendingRequests: Sendable {
    private struct State: Sendable {
        var nextID = 0
        /// Responses are handed over parsed: the read handler parses each message once.
        var waiting: [Int: WaitContinuation<JSONValue, any Error>] = [:]
        var ended: LabvisorError?
        var listeners: [Int: NotificationListener] = [:]
        /// Whether notifications were handed to listeners since the last `readComplete`.
        var notified = false
        var nextListener = 0
    }

    private let state = LockedState(State())
    private let endpoint: Endpoint

    init(endpoint: Endpoint) {
        self.endpoint = endpoint
    }

    /// Whether a request waits for its response.
    var isWaiting: Bool { state.withLock { !$0.waiting.isEmpty } }

    func nextID() -> Int {
        state.withLock {
            $0.nextID += 1
            return $0.nextID
        }
    }

    /// Registers `id`, runs `send`, and waits for the response.
    func wait(id: Int, deadline: ContinuousClock.Instant?, send: @escaping @Sendable () -> Void) async throws -> JSONValue {
        try await suspend(until: deadline) { (continuation: WaitContinuation<JSONValue, any Error>) in
            let ended = state.withLock { state -> LabvisorError? in
                if let ended = state.ended { return ended }
                state.waiting[id] = continuation
                return nil
            }
            if let ended {
                continuation.resume(throwing: ended)
            } else {
                send()
            }
        } expire: { [state] end in
            guard let continuation = state.withLock({ $0.waiting.removeValue(forKey: id) }) else { return }
            switch end {
            case .deadline: continuation.resume(throwing: LabvisorError(.timeout, "no response from labvisord within the client's timeout"))
            case .cancelled: continuation.resume(throwing: CancellationError())
            }
        }
    }

    /// Adds `listener` (ended at once when the connection already has); returns its key.
    func listen(_ listener: NotificationListener) -> Int {
        let key = state.withLock { state -> Int? in
            if state.ended != nil { return nil }
            state.nextListener += 1
            state.listeners[state.nextListener] = listener
            return state.nextListener
        }
        guard let key else {
            listener.end()
            return 0
        }
        return key
    }

    /// Removes the listener `key`.
    func stopListening(_ key: Int) {
        _ = state.withLock { $0.listeners.removeValue(forKey: key) }
    }

    /// Hands a notification to the listeners of its method.
    func notify(method: String, message: IncomingNotification) {
        let listeners = state.withLock { state in
            state.notified = true
            return state.listeners.values.filter { $0.method == method }
        }
        for listener in listeners { listener.receive(message) }
    }

    /// A read from the socket has been handled: listeners hand on what they kept.
    func readComplete() {
        let listeners = state.withLock { state -> [NotificationListener] in
            guard state.notified else { return [] }
            state.notified = false
            return Array(state.listeners.values)
        }
        for listener in listeners { listener.readComplete() }
    }

    /// Hands a response to its waiter.
    func deliver(id: Int, response: JSONValue) {
        state.withLock { $0.waiting.removeValue(forKey: id) }?.resume(returning: response)
    }

    /// Fails every waiter and later request with `unavailable` saying why.
    func end(_ reason: String) {
        end(with: LabvisorError(.unavailable, "the connection to labvisord at \(endpoint) ended: \(reason)", fields: ["endpoint": .string(endpoint.description)]))
    }

    /// Fails every waiter and later request with `error` (the first end's error stays).
    func end(with error: LabvisorError) {
        let waiting = state.withLock { state in
            if state.ended == nil { state.ended = error }
            defer { state.waiting = [:] }
            return Array(state.waiting.values)
        }
        for waiter in waiting { waiter.resume(throwing: error) }
        let listeners = state.withLock { state in
            defer { state.listeners = [:] }
            return Array(state.listeners.values)
        }
        for listener in listeners { listener.end() }
    }
}

/// A notification from the daemon, as the read handler parsed it.
enum IncomingNotification: Sendable {
    /// An `event` in the layout the daemon writes, read without building its tree.
    case event(EventNotification.Params)
    /// Any notification, as its parsed message.
    case message(JSONValue)
}

/// Who receives the notifications of one method (see `LabvisorConnection.listen`).
struct NotificationListener: Sendable {
    /// The notifications' method (`event`).
    let method: String
    /// Called on the event loop with each parsed message.
    let receive: @Sendable (IncomingNotification) -> Void
    /// Called on the event loop when a read that brought notifications has been handled.
    let readComplete: @Sendable () -> Void
    /// Called once when the connection ends.
    let end: @Sendable () -> Void
}

/// Routes response frames to their requests.
final class ResponseHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = IncomingMessage

    private let pending: PendingRequests
    private let frames: FrameRouter

    init(pending: PendingRequests, frames: FrameRouter) {
        self.pending = pending
        self.frames = frames
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer: ByteBuffer
        switch unwrapInboundIn(data) {
        case .binary(let header, let payload):
            return binaryMessage(context: context, header: header, payload: payload)
        case .json(let message):
            buffer = message
        }
        if buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) == Framing.binaryMarker {
            guard let (header, payload) = try? BinaryMessage.split(buffer) else { return }
            return binaryMessage(context: context, header: header, payload: Array(payload.readableBytesView))
        }
        if let event = buffer.withUnsafeReadableBytes({ EventNotification.params(fromMessage: $0) }) {
            pending.notify(method: EventNotification.name, message: .event(event))
            return
        }
        let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        guard case .object(let members)? = try? JSONParser.parse(bytes) else { return }
        let id = members["id"] ?? .null
        if case .string(let method)? = members["method"], id == .null {
            if method == StreamEndedNotification.name,
                let ended = try? JSONValueDecoder().decode(RPCRequest<StreamEndedNotification.Params>.self, from: .object(members))
            {
                frames.ended(ended.params)
            }
            pending.notify(method: method, message: .message(.object(members)))
        } else if case .int(let number) = id {
            let response = JSONValue.object(members)
            frames.responseArrived(requestID: number, response)
            pending.deliver(id: number, response: response)
        } else if id == .null, let error = members["error"] {
            // An error for no request: the daemon refused the connection or a message (a limit,
            // `resourceExhausted`) and closes it; waiting and later requests fail with that error.
            if let refusal = try? JSONValueDecoder().decode(ErrorObject.self, from: error) {
                frames.connectionEnded(refusal.labvisorError)
                pending.end(with: refusal.labvisorError)
            } else {
                pending.end(error["message"]?.string ?? "\(error)")
            }
        }
    }

    /// A `stream.frame`: header and payload (already in its own array) to its subscription;
    /// pauses reading when the subscription's queue is full.
    private func binaryMessage(context: ChannelHandlerContext, header: ByteBuffer, payload: [UInt8]) {
        guard let notification = try? WireJSON.decode(RPCRequest<StreamFrameNotification.Params>.self, from: header.readableBytesView),
            notification.method == StreamFrameNotification.name, notification.params.bytes == payload.count
        else { return }
        if frames.frameArrived(StreamFrame(header: notification.params, bytes: payload), mayPause: !pending.isWaiting) {
            _ = context.channel.setOption(ChannelOptions.autoRead, value: false)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        pending.readComplete()
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        frames.connectionEnded(LabvisorError(.unavailable, "the connection to labvisord ended: the daemon closed the connection"))
        pending.end("the daemon closed the connection")
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        frames.connectionEnded(LabvisorError(.unavailable, "the connection to labvisord failed: \(error)"))
        pending.end("\(error)")
        context.close(promise: nil)
    }
}
