import ArgumentParser

/// `labvisor`: the administration tool: udev rules from the manifests, instrument simulators.
@main
struct LabvisorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "labvisor",
        abstract: "Labvisor administration tool.",
        subcommands: [
            ListCommand.self, DescribeCommand.self, CallCommand.self, GetCommand.self, SetCommand.self, LockCommand.self,
            WatchCommand.self, FramesCommand.self, StatusCommand.self, LeasesCommand.self, RevokeCommand.self, HistoryCommand.self,
            SimulateCommand.self, SimulateFaultCommand.self, UdevRulesCommand.self,
        ])
}
