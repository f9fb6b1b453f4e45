import ArgumentParser
import Foundation
import LabvisorClient

/// Options every command that talks to the daemon shares.
struct ClientOptions: ParsableArguments {
    @Option(
        name: .customLong("connect"),
        help: "The daemon's URL (unix:///PATH, tls://HOST:PORT, or tcp://HOST:PORT for a plain loopback listener); default LABVISOR_URL, else the local socket.")
    var url: String?

    @Option(help: "The bearer token for a TCP listener (default LABVISOR_TOKEN; prefer the variable: arguments are visible to other users).")
    var token: String?

    @Option(help: "The CA certificate (PEM) the daemon's TLS certificate must chain to (default LABVISOR_CA, else the system's roots).")
    var ca: String?

    @Option(help: "A client certificate (PEM) for a listener that requires one (default LABVISOR_CERT); with --key.")
    var cert: String?

    @Option(help: "The client certificate's private key (PEM) (default LABVISOR_KEY).")
    var key: String?

    @Flag(help: "Print the result as JSON.")
    var json = false

    /// Connects, runs `body`, and turns a Labvisor error into `error: <code>: <sentence>` on
    /// stderr and the documented exit code.
    func run(_ body: (Labvisor) async throws -> Void) async throws {
        do {
            let endpoint = try url.map { (url) throws(LabvisorError) in try Endpoint.parse(url) }
            var credentials = ClientCredentials.fromEnvironment()
            credentials.token = token ?? credentials.token
            credentials.caFile = ca ?? credentials.caFile
            credentials.certificateFile = cert ?? credentials.certificateFile
            credentials.keyFile = key ?? credentials.keyFile
            let labvisor = try await Labvisor.connect(to: endpoint, credentials: credentials)
            defer { Task { await labvisor.close() } }
            try await body(labvisor)
        } catch let error as LabvisorError {  // Labvisor errors get the documented form; others propagate
            FileHandle.standardError.write(Data("error: \(error.code): \(error.message)\n".utf8))
            throw ExitCode(Self.exitCode(for: error.code))
        }
    }

    /// 0 ok, 2 usage, 3 not found, 4 locked or timed out, 5 instrument or driver error,
    /// 6 permission denied or unauthenticated, 1 else.
    static func exitCode(for code: ErrorCode) -> Int32 {
        switch code {
        case .notFound, .unknownMethod: 3
        case .locked, .timeout, .deadlineExceeded: 4
        case .deviceGone, .driverFault, .invalidArgument, .leaseRequired, .leaseRevoked: 5
        case .permissionDenied, .unauthenticated: 6
        default: 1
        }
    }

    /// Prints `value` as JSON (sorted keys).
    func printJSON(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }
}

/// Parses `NAME=VALUE` arguments: VALUE as JSON when it parses (numbers, true, null,
/// quoted strings, objects), else as a plain string.
func parseArguments(_ pairs: [String], json: String?) throws -> [String: JSONValue] {
    var arguments: [String: JSONValue] = [:]
    if let json {
        guard case .object(let object)? = try? JSONDecoder().decode(JSONValue.self, from: Data(json.utf8)) else {
            throw ValidationError("--args must be a JSON object, got: \(json)")
        }
        arguments = object
    }
    for pair in pairs {
        guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
            throw ValidationError("argument '\(pair)' must be NAME=VALUE")
        }
        arguments[String(pair[..<equals])] = parseValue(String(pair[pair.index(after: equals)...]))
    }
    return arguments
}

/// A command-line value: JSON when it parses, else the string itself.
func parseValue(_ text: String) -> JSONValue {
    (try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))) ?? .string(text)
}

/// "30s", "500ms", "2m", "2h", "7d", "2w", or plain seconds.
func parseDuration(_ text: String) throws -> Duration {
    let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86_400), ("w", 604_800)]
    for (suffix, scale) in units where text.hasSuffix(suffix) {
        if let number = Double(text.dropLast(suffix.count)), number >= 0 { return .seconds(number * scale) }
    }
    if let number = Double(text), number >= 0 { return .seconds(number) }
    throw ValidationError("'\(text)' is not a duration (examples: 30s, 500ms, 2m)")
}
