import ArgumentParser
import Foundation
import LabvisorHardware

/// `labvisor udev-rules [--drivers DIR] [--output FILE]`: writes the udev rules generated
/// from the driver manifests (to standard output without `--output`).
struct UdevRulesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "udev-rules",
        abstract: "Generate udev rules (70-labvisor.rules) from the driver manifests.")

    @Option(help: "The directory holding one folder per driver, each with a driver.toml.")
    var drivers: String = "drivers"

    @Option(help: "The file to write; standard output when absent.")
    var output: String?

    func run() async throws {
        let manifests = try DriverManifestLoader.load(directory: drivers)
        let rules = UdevRulesGenerator.rules(for: manifests)
        if let output {
            try rules.write(toFile: output, atomically: true, encoding: .utf8)
        } else {
            print(rules, terminator: "")
        }
    }
}
