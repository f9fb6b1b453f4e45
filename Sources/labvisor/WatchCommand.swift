import ArgumentParser
import Foundation
import LabvisorClient

/// `labvisor watch [NAME ...] [--kind KIND ...]`: prints events as they happen, one per line
/// (or one JSON object per line with `--json`), until interrupted.
struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "watch", abstract: "Print events until interrupted.")
    @OptionGroup var options: ClientOptions
    @Argument(help: "Only events about these instruments.") var names: [String] = []
    @Option(name: .customLong("kind"), help: "Only events of this kind (repeatable): \(Event.Kind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var kinds: [String] = []

    func run() async throws {
        let kinds = try kinds.map { text -> Event.Kind in
            guard let kind = Event.Kind(rawValue: text) else { throw ValidationError("unknown event kind '\(text)'") }
            return kind
        }
        try await options.run { labvisor in
            let events = try await labvisor.watch(kinds: kinds.isEmpty ? nil : kinds, instruments: names.isEmpty ? nil : names)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            for await event in events {
                if options.json {
                    print(String(decoding: try encoder.encode(WireEvent(event)), as: UTF8.self))
                } else {
                    let fields = event.fields.keys.sorted().map { "\($0)=\(event.fields[$0]!)" }.joined(separator: " ")
                    print("\(event.sequence)\t\(event.kind.rawValue)\t\(event.instrument ?? "-")\t\(fields)")
                }
                fflush(nil)
            }
        }
    }
}
