import Foundation
import LabvisorCore

/// The package's executables (`labvisord`, `labvisor`) as built beside the running test
/// bundle, for tests that run the real daemon or CLI.
public enum BuiltExecutables {
    /// The products folder holding `labvisord` and `labvisor`.
    ///
    /// - Throws: `notFound` when no `labvisord` is near the test bundle (build with
    ///   `swift build --build-tests`).
    public static func folder() throws -> URL {
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        while !FileManager.default.isExecutableFile(atPath: folder.appendingPathComponent("labvisord").path) {
            guard folder.path != "/" else {
                throw LabvisorError(.notFound, "no labvisord executable near the test bundle: build with `swift build --build-tests`")
            }
            folder.deleteLastPathComponent()
        }
        return folder
    }

    /// The executable `name` in `folder()`.
    public static func url(_ name: String) throws -> URL {
        try folder().appendingPathComponent(name)
    }
}
