import ArgumentParser
import Foundation
import LabvisorClient

/// `labvisor lock (NAME ... | --where JSON) [--timeout DUR] -- COMMAND [ARGS]`: holds a lease
/// while COMMAND runs, with `LABVISOR_URL`, `LABVISOR_LEASE` (the lease token) and
/// `LABVISOR_INSTRUMENTS` in its environment, releases it when COMMAND exits, and exits with
/// COMMAND's status.
struct LockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lock", abstract: "Hold a lease while a command runs; exit with its status.",
        discussion: "Example: labvisor lock stage-x -- python3 scan.py (scan.py's calls act under the lease).")
    @OptionGroup var options: ClientOptions
    @Option(name: .customLong("where"), help: "Lock any free instrument matching this requirements query.") var query: String?
    @Option(help: "How many instruments matching --where.") var count = 1
    @Option(help: "How long to wait for the instruments (30s, 500ms); default: fail at once if locked.") var timeout: String?
    @Argument(parsing: .captureForPassthrough, help: "NAME ... -- COMMAND [ARGS]") var words: [String] = []

    func run() async throws {
        guard let separator = words.firstIndex(of: "--") else {
            throw ValidationError("put the command after --: labvisor lock NAME -- COMMAND [ARGS]")
        }
        let names = Array(words[..<separator])
        let command = Array(words[words.index(after: separator)...])
        guard !command.isEmpty else { throw ValidationError("no command after --") }
        guard names.isEmpty != (query == nil) else { throw ValidationError("name the instruments, or give --where, not both") }
        let wait = try timeout.map(parseDuration) ?? .zero
        let query = try self.query.map { text -> JSONValue in
            guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) else {
                throw ValidationError("--where must be JSON, got: \(text)")
            }
            return value
        }
        var status: Int32 = 0
        try await options.run { labvisor in
            let lease = if let query {
                try await labvisor.acquire(where: query, count: count, timeout: wait)
            } else {
                try await labvisor.acquire(names, timeout: wait)
            }
            defer { Task { try? await labvisor.release(lease) } }
            var environment = ProcessInfo.processInfo.environment
            environment["LABVISOR_URL"] = labvisor.connection.endpoint.description
            // A TCP daemon: the child reaches it with the same credentials.
            for (name, value) in [("LABVISOR_TOKEN", options.token), ("LABVISOR_CA", options.ca), ("LABVISOR_CERT", options.cert), ("LABVISOR_KEY", options.key)] {
                if let value { environment[name] = value }
            }
            environment["LABVISOR_LEASE"] = lease.token
            environment["LABVISOR_INSTRUMENTS"] = lease.instruments.joined(separator: ",")
            status = try await Self.runCommand(command, environment: environment)
            try await labvisor.release(lease)
        }
        if status != 0 { throw ExitCode(status) }
    }

    /// Runs `command` (looked up on PATH) and returns its exit status (128 + signal when killed).
    static func runCommand(_ command: [String], environment: [String: String]) async throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = command
        process.environment = environment
        let ended = AsyncStream<Void>.makeStream()
        process.terminationHandler = { _ in ended.continuation.finish() }
        do {
            try process.run()
        } catch {
            throw ValidationError("cannot run \(command[0]): \(error)")
        }
        for await _ in ended.stream {}
        return process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    }
}
