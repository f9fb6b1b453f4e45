import Foundation
import Testing

/// `LockedState` is the one lock of Labvisor (its doc comment says why): a
/// `Synchronization.Mutex` in the sources would pass the plain tests and fail the
/// ThreadSanitizer pass with race reports on everything it guards (seen: `WorkerThread`,
/// session 8). This test fails first, and names the file.
@Suite struct LockRuleTests {
    static let sources = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources")

    @Test func noSourceUsesTheStandardLibrarysMutex() throws {
        let files = try #require(FileManager.default.enumerator(atPath: Self.sources.path))
            .compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") }
        #expect(files.count > 50, "the sources were not found at \(Self.sources.path)")
        // `Mutex(` and `Mutex<` as a whole word: not `pthread_mutex_t`, not `LockedState`.
        let use = try Regex(#"(^|[^A-Za-z_])Mutex\s*[(<]"#)
        var offenders: [String] = []
        for file in files {
            let text = try String(contentsOf: Self.sources.appendingPathComponent(file), encoding: .utf8)
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            where !line.trimmingCharacters(in: .whitespaces).hasPrefix("//") && line.contains(use) {
                offenders.append("Sources/\(file):\(number + 1)")
            }
        }
        #expect(offenders.isEmpty, "use LockedState, not Synchronization.Mutex (TSan cannot see it): \(offenders)")
    }
}
