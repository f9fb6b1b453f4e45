import ArgumentParser
import Foundation
import LabvisorClient

/// `labvisor leases`.
struct LeasesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "leases", abstract: "List the leases held now.")
    @OptionGroup var options: ClientOptions

    func run() async throws {
        try await options.run { labvisor in
            let leases = try await labvisor.leases()
            if options.json { return try options.printJSON(leases) }
            for lease in leases {
                let since = Date(timeIntervalSince1970: lease.since).formatted(date: .omitted, time: .standard)
                print("\(lease.lease)\t\(lease.holder)\t\(lease.instruments.joined(separator: ","))\tsince \(since)")
            }
        }
    }
}

/// `labvisor revoke LEASE --reason TEXT`.
struct RevokeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "revoke", abstract: "Revoke a lease (its holder's next call fails with leaseRevoked).")
    @OptionGroup var options: ClientOptions
    @Argument(help: "The lease id (see `labvisor leases`).") var lease: String
    @Option(help: "Why; the holder is told.") var reason: String

    func run() async throws {
        try await options.run { labvisor in try await labvisor.revoke(lease, reason: reason) }
    }
}
