import ArgumentParser
import LabvisorClient

/// `labvisor simulate-fault NAME unplug|replug`.
struct SimulateFaultCommand: AsyncParsableCommand {
    /// The faults a running daemon's simulated instruments take.
    enum Fault: String, ExpressibleByArgument, CaseIterable {
        case unplug, replug
    }

    static let configuration = CommandConfiguration(
        commandName: "simulate-fault",
        abstract: "Unplug or replug a simulated instrument of a running daemon (labvisord --demo, or simulate = in its configuration).",
        discussion: """
            unplug hangs up the simulator's PTY: calls in progress fail with deviceGone and the \
            instrument is gone (leases kept) until replug, which re-attaches the same device on a \
            new PTY under the same name, or until the grace period ends (then it is removed).
            """)
    @OptionGroup var options: ClientOptions
    @Argument(help: "The simulated instrument.") var instrument: String
    @Argument(help: "unplug or replug.") var fault: Fault

    func run() async throws {
        try await options.run { labvisor in
            let state = switch fault {
            case .unplug: try await labvisor.unplugSimulator(instrument)
            case .replug: try await labvisor.replugSimulator(instrument)
            }
            if options.json { return try options.printJSON(["instrument": instrument, "state": state]) }
            print("\(instrument): \(state)")
        }
    }
}
