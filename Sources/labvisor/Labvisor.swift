import ArgumentParser

/// `labvisor`: the administration tool. Today it only generates the udev rules.
@main
struct Labvisor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "labvisor",
        abstract: "Labvisor administration tool.",
        subcommands: [UdevRulesCommand.self])
}
