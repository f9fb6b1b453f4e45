import Foundation
import LabvisorCore
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
    /// Told about every instrument call (invoke, get, set) when it ends: the metrics.
    public let calls: (any CallObserver)?
    /// The simulated instruments, for `simulator.unplug` and `simulator.replug`.
    public let simulators: SimulatedInstruments?
    /// Writes refusals before authentication to the audit log, within its limits.
    public let refusals: RefusalAudit

    /// Creates a dispatcher.
    public init(
        supervisor: Supervisor, clientCount: @escaping @Sendable () -> Int, maxClients: Int, demo: Bool,
        calls: (any CallObserver)? = nil, simulators: SimulatedInstruments? = nil
    ) {
        self.supervisor = supervisor
        self.clientCount = clientCount
        self.maxClients = maxClients
        self.demo = demo
        self.calls = calls
        self.simulators = simulators
        refusals = RefusalAudit(supervisor: supervisor)
    }

    /// Handles one JSON-RPC message from `session`, whose identity and grants `access` holds
    /// (each method checks the level it needs: docs/operations.md "Access control"). The
    /// message is parsed once (`JSONParser`); the envelope and the params are decoded from the tree.
    public func handle(_ message: [UInt8], from session: ClientSession, access: ConnectionAccess = .unrestricted) -> Outcome {
        /// A message that is not a request, refused (audited when the connection has not authenticated).
        func refuse(_ response: [UInt8], _ method: String, _ reason: String) -> Outcome {
            if !access.isAuthenticated {
                refusals.requestRefused(access, client: session.client, action: "refused", method: method, reason: reason)
            }
            return .now(response)
        }
        let members: [String: JSONValue]
        do {
            guard case .object(let object) = try JSONParser.parse(message) else {
                let reason = "invalid request: a message must be a JSON object"
                return refuse(Self.rawError(id: nil, code: -32600, message: reason), "(not a request)", reason)
            }
            members = object
        } catch {
            let reason = "parse error: the message is not JSON (\(error))"
            return refuse(Self.rawError(id: nil, code: -32700, message: reason), "(not JSON)", reason)
        }
        let id: RequestID?
        switch members["id"] {
        case nil, .null?: id = nil
        case .int(let number)?: id = .number(number)
        case .string(let text)?: id = .string(text)
        case .double(let number)? where number.rounded() == number && abs(number) < 1e15: id = .number(Int(number))
        case let other?:
            let reason = "invalid request: 'id' must be a number or a string, not \(other.typeName)"
            return refuse(Self.rawError(id: nil, code: -32600, message: reason), "(not a request)", reason)
        }
        guard case .string(let method)? = members["method"] else {
            let reason = "invalid request: no 'method' member (a string)"
            return refuse(Self.rawError(id: id, code: -32600, message: reason), "(not a request)", reason)
        }
        // Absent params are an empty object: methods without arguments need not send any.
        let data = members["params"] ?? .object([:])
        let supervisor = self.supervisor
        if method != AuthenticateSession.name, !access.isAuthenticated {
            let error = access.unauthenticatedError
            refusals.requestRefused(access, client: session.client, action: "unauthenticated", method: method, reason: error.message)
            return .now(id == nil ? nil : (try? WireJSON.encode(RPCResponse<Empty>(id: id, error: error))) ?? [])
        }
        let guarded = AccessGuard(access: access, session: session, supervisor: supervisor, refusals: refusals)
        switch method {
        case AuthenticateSession.name:
            return .now(Self.encode(id, AuthenticateSession.self, data, failed: guarded.authenticationRefused) { params in try guarded.authenticate(params) })
        case DaemonStatus.name:
            return .now(Self.encode(id, DaemonStatus.self, data) { _ in
                supervisor.status(clients: clientCount(), maxClients: maxClients, demo: demo)
            })
        case ListInstruments.name:
            return .now(Self.encode(id, ListInstruments.self, data) { params in guarded.visible(try supervisor.list(params)) })
        case DescribeInstrument.name:
            return .now(Self.encode(id, DescribeInstrument.self, data) { params in
                try guarded.check(.observe, params.instrument)
                return try supervisor.describe(params)
            })
        case InvokeMethod.name:
            return .later {
                await Self.encodeAsync(id, InvokeMethod.self, data, observed: (calls, .invoke)) { params in
                    try guarded.checkInvoke(params)
                    return try await supervisor.invoke(params, from: session)
                }
            }
        case GetProperty.name:
            return .later {
                await Self.encodeAsync(id, GetProperty.self, data, observed: (calls, .get)) { params in
                    try guarded.check(.observe, params.instrument)
                    return try await supervisor.get(params, from: session)
                }
            }
        case SetProperty.name:
            return .later {
                await Self.encodeAsync(id, SetProperty.self, data, observed: (calls, .set)) { params in
                    try guarded.check(.control, params.instrument)
                    try await supervisor.set(params, from: session)
                    return Empty()
                }
            }
        case AcquireLease.name:
            return .later {
                await Self.encodeAsync(id, AcquireLease.self, data) { params in
                    try await supervisor.acquire(try guarded.checkAcquire(params), from: session)
                }
            }
        case ReleaseLease.name:
            return .now(Self.encode(id, ReleaseLease.self, data) { params in
                try supervisor.release(params, from: session)
                return Empty()
            })
        case ListLeases.name:
            return .now(Self.encode(id, ListLeases.self, data) { _ in supervisor.listLeases() })
        case RevokeLease.name:
            return .now(Self.encode(id, RevokeLease.self, data) { params in
                try guarded.checkRevoke(params)
                try supervisor.revoke(params, from: session)
                return Empty()
            })
        case ListHistory.name:
            return .later { await Self.encodeAsync(id, ListHistory.self, data) { try await supervisor.history($0) } }
        case ListAudit.name:
            return .later {
                await Self.encodeAsync(id, ListAudit.self, data) { params in
                    try guarded.check(.administer, nil, action: "read the audit log")
                    return try await supervisor.audit(params)
                }
            }
        case WatchEvents.name:
            return .now(Self.encode(id, WatchEvents.self, data) { params in
                try guarded.checkWatch(params)
                return supervisor.watch(params, from: session)
            })
        case UnwatchEvents.name:
            return .now(Self.encode(id, UnwatchEvents.self, data) { params in
                try supervisor.unwatch(params, from: session)
                return Empty()
            })
        case UnplugSimulator.name:
            let simulators = self.simulators
            return .later {
                await Self.encodeAsync(id, UnplugSimulator.self, data) { params in
                    try guarded.check(.administer, params.instrument, action: "unplug \(params.instrument) (a simulator fault)")
                    try await Self.simulated(params.instrument, simulators).unplug(params.instrument)
                    return SimulatorFaultResult(instrument: params.instrument, state: try supervisor.instrument(params.instrument).lifecycle.state.rawValue)
                }
            }
        case ReplugSimulator.name:
            let simulators = self.simulators
            return .later {
                await Self.encodeAsync(id, ReplugSimulator.self, data) { params in
                    try guarded.check(.administer, params.instrument, action: "replug \(params.instrument) (a simulator fault)")
                    let simulated = try Self.simulated(params.instrument, simulators)
                    try await simulated.replug(params.instrument)
                    let instrument = try supervisor.instrument(params.instrument)
                    // A driver reopened for the sessions still open: answer once it is up.
                    await instrument.session.settle()
                    return SimulatorFaultResult(instrument: params.instrument, state: instrument.lifecycle.state.rawValue)
                }
            }
        case OpenStream.name:
            return .laterThen {
                let start = LockedState<(@Sendable () -> Void)?>(nil)
                let response = await Self.encodeAsync(id, OpenStream.self, data) { params in
                    try guarded.check(.observe, params.instrument)
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

    /// The simulators, when `instrument` is one of them.
    ///
    /// - Throws: `notFound` naming the instrument when it is not simulated (or nothing is).
    private static func simulated(_ instrument: String, _ simulators: SimulatedInstruments?) throws(LabvisorError) -> SimulatedInstruments {
        guard let simulators, simulators.contains(instrument) else {
            throw LabvisorError(
                .notFound, "instrument \(instrument) is not a simulated instrument of this daemon: simulator faults need `simulate =` in the configuration (or --demo)",
                fields: ["kind": "simulated instrument", "name": .string(instrument)])
        }
        return simulators
    }

    // MARK: - Encoding

    private static func decodeParams<Method: WireMethod>(_ method: Method.Type, _ params: JSONValue) throws(LabvisorError) -> Method.Params {
        if let params = Method.params(fromTree: params) { return params }
        do {
            return try JSONValueDecoder().decode(Method.Params.self, from: params)
        } catch {
            throw LabvisorError(
                .invalidArgument, "invalid params for \(Method.name): \(describe(error))",
                fields: ["argument": .string(argumentName(error) ?? "params"), "method": .string(Method.name)])
        }
    }

    /// Runs `body` and encodes its response; `failed` is told the error when it fails.
    private static func encode<Method: WireMethod>(
        _ id: RequestID?, _ method: Method.Type, _ data: JSONValue, failed: ((LabvisorError) -> Void)? = nil,
        _ body: (Method.Params) throws -> Method.Result
    ) -> [UInt8]? {
        let result: Result<Method.Result, any Error>
        do {
            result = .success(try body(try decodeParams(method, data)))
        } catch {
            failed?(labvisorError(error))
            result = .failure(error)
        }
        return id == nil ? nil : serialize(id, method, result)
    }

    /// Runs `body` and encodes its response; with an observer in `observed`, tells it the
    /// call's kind, outcome and duration.
    private static func encodeAsync<Method: WireMethod>(
        _ id: RequestID?, _ method: Method.Type, _ data: JSONValue, observed: ((any CallObserver)?, InstrumentCallKind)? = nil,
        _ body: (Method.Params) async throws -> Method.Result
    ) async -> [UInt8]? {
        let started = observed?.0 == nil ? nil : ContinuousClock.now
        let result: Result<Method.Result, any Error>
        var failure: ErrorCode?
        do {
            result = .success(try await body(try decodeParams(method, data)))
        } catch {
            let error = labvisorError(error)
            failure = error.code
            result = .failure(error)
        }
        if let started, let observed {
            observed.0?.callEnded(observed.1, error: failure, duration: .now - started)
        }
        return id == nil ? nil : serialize(id, method, result)
    }

    /// The response's bytes: the result's (envelope written directly), or the error's.
    private static func serialize<Method: WireMethod>(
        _ id: RequestID?, _ method: Method.Type, _ result: Result<Method.Result, any Error>
    ) -> [UInt8] {
        do {
            switch result {
            case .success(let value):
                if let tree = Method.tree(of: value) { return WireJSON.encodeResponse(id: id, resultTree: tree) }
                return try WireJSON.encodeResponse(id: id, result: value)
            case .failure(let error): return try WireJSON.encode(RPCResponse<Empty>(id: id, error: labvisorError(error)))
            }
        } catch {
            return rawError(id: id, code: -32603, message: "internal error: cannot encode the response (\(error))")
        }
    }

    /// A JSON-RPC error built by hand (no Labvisor code: parse errors and unknown methods).
    static func rawError(id: RequestID?, code: Int, message: String) -> [UInt8] {
        return JSONWriter.bytes(["jsonrpc": "2.0", "id": id?.json ?? .null, "error": ["code": .int(code), "message": .string(message)]])
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
