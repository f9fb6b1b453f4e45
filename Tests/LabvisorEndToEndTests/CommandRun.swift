import Foundation
import LabvisorClient

/// Runs a command to its end, bounded: output (stdout and stderr together) goes to a
/// temporary file, and a command still running at the limit is killed and reported.
enum CommandRun {
    /// Runs `executable` with `arguments` (and `environment` added to the test's).
    ///
    /// - Returns: the exit status and the output.
    /// - Throws: `timeout` naming the command when it ran past `limit`.
    static func run(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], within limit: Duration = .seconds(60)
    ) async throws -> (status: Int32, output: String) {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("command-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        let output = try FileHandle(forWritingTo: log)
        defer { try? output.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let ended = LockedState<(finished: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))
        process.terminationHandler = { _ in
            let waiter = ended.withLock { state in
                state.finished = true
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }
        try process.run()
        let timer = DeadlineScheduler.shared.schedule(at: .now + limit) { kill(process.processIdentifier, SIGKILL) }
        await withCheckedContinuation { continuation in
            let done = ended.withLock { state -> Bool in
                if state.finished { return true }
                state.waiter = continuation
                return false
            }
            if done { continuation.resume() }
        }
        DeadlineScheduler.shared.cancel(timer)
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        if process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGKILL {
            throw LabvisorError(.timeout, "\(executable) \(arguments.joined(separator: " ")) ran longer than \(limit): \(text)")
        }
        return (process.terminationStatus, text)
    }

    /// The full path of `name` on `$PATH` (and the sbin folders, where Debian keeps some tools).
    static func executable(named name: String) -> String? {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin") + ":/usr/sbin:/sbin"
        return path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}
