import Foundation

/// Paths inside this repository, found from this source file's location.
enum RepositoryPaths {
    /// The repository root (two levels above `Tests/LabvisorHardwareTests/`).
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// `drivers/`.
    static var drivers: String { root + "/drivers" }

    /// The committed rules file.
    static var rulesFile: String { root + "/udev-rules/70-labvisor.rules" }
}
