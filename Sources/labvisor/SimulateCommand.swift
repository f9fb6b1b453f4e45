import ArgumentParser
import Foundation
import LabvisorReferenceDrivers
import LabvisorSimulation
import UnixSignals

/// `labvisor simulate <driver-id> [--link PATH]`: runs one instrument simulator on a PTY and
/// prints the device path, so any serial program can talk to the simulated instrument until
/// interrupted (Ctrl-C or SIGTERM).
struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Run an instrument simulator on a pseudo-terminal until interrupted.",
        discussion: """
            Prints the PTY's path (and the link, with --link) on one line, then serves the \
            simulated device. Use --list to see the simulators.
            """)

    @Argument(help: "The driver id whose device to simulate (see --list).")
    var driver: String?

    @Option(help: "Also make this path a symbolic link to the PTY (removed on exit).")
    var link: String?

    @Flag(help: "List the simulators and exit.")
    var list = false

    func run() async throws {
        let catalog = ReferenceDrivers.simulators
        if list {
            for id in catalog.ids { print("\(id)\t\(catalog.entries[id]!.summary)") }
            return
        }
        guard let driver else {
            throw ValidationError("name the driver to simulate (one of: \(catalog.ids.joined(separator: ", ")))")
        }
        let entry: SimulatorCatalog.Entry
        do {
            entry = try catalog.entry(driver)
        } catch {
            throw ValidationError(error.message)
        }
        // Trap the signals before the path is printed: whoever reads the path may interrupt at once.
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        let simulator = try entry.start(.shared)
        defer { simulator.stop() }
        if let link {
            try simulator.link(at: link)
            print("\(driver) simulator on \(simulator.path) (linked at \(link))")
        } else {
            print("\(driver) simulator on \(simulator.path)")
        }
        fflush(nil)  // all streams: whoever reads our output learns the path now
        let signal = await Self.firstSignal(of: signals)
        FileHandle.standardError.write(Data("simulate: stopping on \(signal)\n".utf8))
    }

    /// Waits for the first of `signals` (SIGINT or SIGTERM) and returns its name.
    private static func firstSignal(of signals: UnixSignalsSequence) async -> String {
        for await signal in signals {
            return "\(signal)"
        }
        return "the end of the signal sequence"
    }
}
