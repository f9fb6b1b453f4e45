import Foundation
import Testing

/// Runs umockdev tests under umockdev's preload library from a plain `swift test` (shared by
/// the hardware tests and the drivers' umockdev tests; only test targets link this module).
///
/// A test calls `UmockdevReexec.runHere()` first. In a process that already has the preload
/// (`LD_PRELOAD` names `libumockdev-preload`), it returns `true` and the test runs here. Otherwise
/// it re-runs this one test in a child, `umockdev-wrapper <this test binary> --testing-library
/// swift-testing --filter <suite>/<test>`, waits for it (bounded), records an issue with the
/// child's output unless exactly one test ran there and passed without a ThreadSanitizer
/// report, and returns `false`. No umockdev-wrapper: the test fails, it is never skipped.
public enum UmockdevReexec {
    /// How long a child may take before it is killed and the test fails.
    public static let childTimeLimit: Duration = .seconds(60)

    /// Whether the preload library is loaded in this process.
    public static var hasPreload: Bool {
        (ProcessInfo.processInfo.environment["LD_PRELOAD"] ?? "").contains("libumockdev-preload")
    }

    /// `true`: run the test body here. `false`: the test ran in a child (its outcome is recorded).
    public static func runHere(
        suite: String, test: String = #function, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> Bool {
        if hasPreload { return true }
        let name = test.hasSuffix("()") ? String(test.dropLast(2)) : test
        guard let wrapper = which("umockdev-wrapper") else {
            Issue.record(
                "umockdev-wrapper not found: install umockdev (scripts/setup.sh); hardware tests cannot run",
                sourceLocation: sourceLocation)
            return false
        }
        let binary = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        // A private TMPDIR, removed afterwards, so testbeds do not pile up in /tmp.
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("labvisor-umockdev-\(UUID())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outputURL = scratch.appendingPathComponent("output.txt")
        _ = FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        let output = try FileHandle(forWritingTo: outputURL)
        defer { try? output.close() }

        let child = Process()
        child.executableURL = URL(fileURLWithPath: wrapper)
        child.arguments = [binary, "--testing-library", "swift-testing", "--filter", "\(suite)/\(name)"]
        var environment = ProcessInfo.processInfo.environment
        environment["TMPDIR"] = scratch.path
        // A child killed for running too long aborts with every thread's backtrace in its output.
        environment["SWIFT_BACKTRACE"] = "enable=yes,threads=all,interactive=no,color=no"
        child.environment = environment
        child.standardOutput = output
        child.standardError = output
        try child.run()

        let deadline = ContinuousClock.now + childTimeLimit
        while child.isRunning {
            if ContinuousClock.now > deadline {
                kill(child.processIdentifier, SIGABRT)
                child.waitUntilExit()
                let text = (try? String(contentsOf: outputURL, encoding: .utf8)) ?? ""
                Issue.record(
                    "umockdev child for \(name) killed after \(childTimeLimit); its output:\n\(text)", sourceLocation: sourceLocation)
                return false
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        let text = (try? String(contentsOf: outputURL, encoding: .utf8)) ?? ""
        let ranOne = text.contains("Test run with 1 test ") && text.contains("passed")
        if child.terminationStatus != 0 || !ranOne || text.contains("WARNING: ThreadSanitizer") {
            Issue.record(
                "\(name) failed under umockdev-wrapper (exit \(child.terminationStatus)):\n\(text)",
                sourceLocation: sourceLocation)
        }
        return false
    }

    private static func which(_ program: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(program)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
