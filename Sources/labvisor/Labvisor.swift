import ArgumentParser

/// `labvisor`: the administration tool: udev rules from the manifests, instrument simulators.
@main
struct Labvisor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "labvisor",
        abstract: "Labvisor administration tool.",
        subcommands: [UdevRulesCommand.self, SimulateCommand.self])
}
