import LabvisorHardware
import Testing

@Suite struct SystemLibrariesTests {
    @Test func libusbReportsItsRealVersion() {
        let parts = SystemLibraries.libusbVersion.split(separator: ".").compactMap { Int($0) }
        #expect(parts.count == 3)
        #expect(parts[0] == 1)
    }

    @Test func libudevContextCanBeCreated() {
        #expect(SystemLibraries.udevAvailable)
    }
}
