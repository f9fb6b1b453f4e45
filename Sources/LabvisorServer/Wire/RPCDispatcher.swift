import Foundation
import LabvisorProtocol

/// Turns one request message into its response: decodes the envelope, routes by method,
/// runs the supervisor operation, encodes the result or the error. Quick operations
/// (status, list, describe) answer at once on the caller's thread; the rest run as tasks.
public struct RPCDispatcher: Sendable {
    /// What handling a message produced.
    public enum Outcome: Sendable {
        /// The response now (`nil`: a notification, nothing to send).
        case now([UInt8]?)
        /// The response once `work` finishes.
        case later(@Sendable () async -> [UInt8]?)
        /// The response once `work` finishes, then `then` (called once the response is
        /// queued on the connection: `stream.open` starts its frames after its response).
        case laterThen(@Sendable () async -> (response: [UInt8]?, then: (@Sendable () -> Void)?))
    }

    /// The inventory and operations.
    public let supervisor: Supervisor
    /// Reports connected clients for `daemon.status`.
    public let clientCount: @Sendable () -> Int
    /// The most clients allowed.
    public let maxClients: Int
    /// Whether the daemon runs its demo simulators.
    public let demo: Bool

    /// Creates a dispatcher.
    public init(supervisor: Supervisor, clientCount: @escaping @Sendable () -> Int, maxClients: Int, demo: Bool) {
        self.supervisor = supervisor
        self.clientCount = clientCount
        self.maxClients = maxClients
        self.demo = demo
    }

    /// Handles one JSON-RPC message from `session`.
    public func handle(_ message: [UInt8], from session: ClientSession) -> Outcome {
        let data = Data(message)
        let head: RPCRequestHead
        do {
            head = try JSONDecoder().decode(RPCRequestHead.self, from: data)
        } catch {
            return .now(Self.rawError(id: nil, code: -32700, message: "parse error: the message is not a JSON-RPC request object (\(error))"))
        }
        guard let method = head.method else {
            return .now(Self.rawError(id: head.id, code: -32600, message: "invalid request: no 'method' member"))
        }
        let id = head.id
        let supervisor = self.supervisor
        switch method {
        case DaemonStatus.name:
            return .now(Self.encode(id, DaemonStatus.self, data) { _ in
                supervisor.status(clients: clientCount(), maxClients: maxClients, demo: demo)
            })
        case ListInstruments.name:
            return .now(Self.encode(id, ListInstruments.self, data) { params in try supervisor.list(params) })
        case DescribeInstrument.name:
            return .now(Self.encode(id, DescribeInstrument.self, data) { params in try supervisor.describe(params) })
        case InvokeMethod.name:
            return .later { await Self.encodeAsync(id, InvokeMethod.self, data) { try await supervisor.invoke($0, from: session) } }
        case GetProperty.name:
            return .later { await Self.encodeAsync(id, GetProperty.self, data) { try await supervisor.get($0, from: session) } }
        case SetProperty.name:
            return .later {
                await Self.encodeAsync(id, SetProperty.self, data) { params in
                    try await supervisor.set(params, from: session)
                    return Empty()
                }
            }
        case AcquireLease.name:
            return .later { await Self.encodeAsync(id, AcquireLease.self, data) { try await supervisor.acquire($0, from: session) } }
        case ReleaseLease.name:
            return .now(Self.encode(id, ReleaseLease.self, data) { params in
                try supervisor.release(params, from: session)
                return Empty()
            })
        case ListLeases.name:
            return .now(Self.encode(id, ListLeases.self, data) { _ in supervisor.listLeases() })
        case RevokeLease.name:
            return .now(Self.encode(id, RevokeLease.self, data) { params in
                try supervisor.revoke(params, from: session)
                return Empty()
            })
        case WatchEvents.name:
            return .now(Self.encode(id, WatchEvents.self, data) { params in supervisor.watch(params, from: session) })
        case UnwatchEvents.name:
            return .now(Self.encode(id, UnwatchEvents.self, data) { params in
                try supervisor.unwatch(params, from: session)
                return Empty()
            })
        case OpenStream.name:
            return .laterThen {
                let start = LockedState<(@Sendable () -> Void)?>(nil)
                let response = await Self.encodeAsync(id, OpenStream.self, data) { params in
                    let (result, begin) = try await supervisor.openStream(params, from: session)
                    start.withLock { $0 = begin }
                    return result
                }
                return (response, start.withLock { $0 })
            }
        case CloseStream.name:
            return .now(Self.encode(id, CloseStream.self, data) { params in
                try supervisor.closeStream(params, from: session)
                return Empty()
            })
        case StreamStatus.name:
            return .now(Self.encode(id, StreamStatus.self, data) { params in supervisor.streamStatus(params) })
        default:
            return .now(Self.rawError(
                id: id, code: -32601,
                message: "method not found: '\(method)' (methods: \(WireMethods.all.map { $0.name }.joined(separator: ", ")))"))
        }
    }

    // MARK: - Encoding

    private static func decodeParams<Method: WireMethod>(_ method: Method.Type, _ data: Data) throws(LabvisorError) -> Method.Params {
        do {
            return try JSONDecoder().decode(RPCRequest<Method.Params>.self, from: data).params
        } catch {
            throw LabvisorError(
                .invalidArgument, "invalid params for \(Method.name): \(describe(error))",
                fields: ["argument": .string(argumentName(error) ?? "params"), "method": .string(Method.name)])
        }
    }

    private static func encode<Method: WireMethod>(
        _ id: RequestID?, _ method: Method.Type, _ data: Data, _ body: (Method.Params) throws -> Method.Result
    ) -> [UInt8]? {
        let response: RPCResponse<Method.Result>
        do {
            response = RPCResponse(id: id, result: try body(try decodeParams(method, data)))
        } catch {
            response = RPCResponse(id: id, error: labvisorError(error))
        }
        return id == nil ? nil : serialize(response)
    }

    private static func encodeAsync<Method: WireMethod>(
        _ id: RequestID?, _ method: Method.Type, _ data: Data, _ body: (Method.Params) async throws -> Method.Result
    ) async -> [UInt8]? {
        let response: RPCResponse<Method.Result>
        do {
            response = RPCResponse(id: id, result: try await body(try decodeParams(method, data)))
        } catch {
            response = RPCResponse(id: id, error: labvisorError(error))
        }
        return id == nil ? nil : serialize(response)
    }

    private static func serialize(_ response: some Encodable) -> [UInt8] {
        do {
            return Array(try JSONEncoder().encode(response))
        } catch {
            return rawError(id: nil, code: -32603, message: "internal error: cannot encode the response (\(error))")
        }
    }

    /// A JSON-RPC error built by hand (no Labvisor code: parse errors and unknown methods).
    static func rawError(id: RequestID?, code: Int, message: String) -> [UInt8] {
        struct Raw: Encodable {
            struct Body: Encodable {
                let code: Int
                let message: String
            }
            let jsonrpc = "2.0"
            let id: RequestID?
            let error: Body
            enum CodingKeys: String, CodingKey { case jsonrpc, id, error }
            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(jsonrpc, forKey: .jsonrpc)
                try container.encode(id, forKey: .id)
                try container.encode(error, forKey: .error)
            }
        }
        return (try? Array(JSONEncoder().encode(Raw(id: id, error: .init(code: code, message: message))))) ?? []
    }

    static func labvisorError(_ error: any Error) -> LabvisorError {
        if let error = error as? LabvisorError { return error }
        if error is CancellationError { return LabvisorError(.unavailable, "the call was cancelled", fields: ["cancelled": true]) }
        return LabvisorError(.driverFault, "unexpected failure: \(error)")
    }

    private static func describe(_ error: any Error) -> String {
        switch error as? DecodingError {
        case .keyNotFound(let key, _)?: "missing member '\(key.stringValue)'"
        case .typeMismatch(let type, let context)?: "'\(path(context))' must be \(type)"
        case .valueNotFound(let type, let context)?: "'\(path(context))' must be \(type), not null"
        case .dataCorrupted(let context)?: "\(context.debugDescription) at '\(path(context))'"
        default: "\(error)"
        }
    }

    private static func argumentName(_ error: any Error) -> String? {
        switch error as? DecodingError {
        case .keyNotFound(let key, _)?: key.stringValue
        case .typeMismatch(_, let context)?, .valueNotFound(_, let context)?, .dataCorrupted(let context)?:
            context.codingPath.last(where: { $0.intValue == nil && $0.stringValue != "params" })?.stringValue
        default: nil
        }
    }

    private static func path(_ context: DecodingError.Context) -> String {
        context.codingPath.filter { $0.stringValue != "params" }.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            .joined(separator: ".")
    }
}
