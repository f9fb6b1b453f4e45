import Foundation
import Testing

/// `docs/writing-a-driver.md` shows the example driver and simulator whole: they must be
/// the files that the example's tests run, byte for byte.
@Suite("DriverGuideTests")
struct DriverGuideTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func read(_ path: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
    }

    @Test(arguments: [
        "drivers/example-heater/Driver/ExampleHeaterDriver.swift",
        "drivers/example-heater/Simulator/ExampleHeaterDevice.swift",
    ])
    func guideShowsTheFileWhole(_ path: String) throws {
        let guide = try Self.read("docs/writing-a-driver.md")
        let file = try Self.read(path)
        #expect(guide.contains("```swift\n" + file + "```"), "docs/writing-a-driver.md is out of step with \(path)")
    }

    @Test func exampleDriverStaysSmall() throws {
        let lines = try Self.read("drivers/example-heater/Driver/ExampleHeaterDriver.swift").split(separator: "\n").count
        #expect(lines < 100, "the guide promises a driver under 100 lines; it has \(lines)")
    }
}
