import ArgumentParser
import Foundation
import LabvisorClient

/// `labvisor status`.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show the daemon's status.")
    @OptionGroup var options: ClientOptions

    func run() async throws {
        try await options.run { labvisor in
            let status = try await labvisor.status()
            if options.json { return try options.printJSON(status) }
            print("labvisord \(status.version), up \(Int(status.uptime)) s\(status.demo ? " (demo)" : "")")
            print("clients \(status.clients)/\(status.maxClients), instruments \(status.instruments), leases \(status.leases)")
            for (name, simulation) in (status.simulations ?? [:]).sorted(by: { $0.key < $1.key }) {
                print("  \(name): \(simulation)")
            }
        }
    }
}

/// `labvisor list [--where JSON]`.
struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List instruments.")
    @OptionGroup var options: ClientOptions
    @Option(name: .customLong("where"), help: "A requirements query, e.g. '{\"kind\": \"stage\"}'.")
    var query: String?

    func run() async throws {
        let query = try self.query.map { text -> JSONValue in
            guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) else {
                throw ValidationError("--where must be JSON, got: \(text)")
            }
            return value
        }
        try await options.run { labvisor in
            let instruments = try await labvisor.list(where: query)
            if options.json { return try options.printJSON(instruments) }
            for instrument in instruments {
                let holder = instrument.lease.map { " locked by \($0.holder)" } ?? ""
                print("\(instrument.name)\t\(instrument.kind)\t\(instrument.driver)\t\(instrument.state)\(holder)")
            }
        }
    }
}

/// `labvisor describe NAME`.
struct DescribeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "describe", abstract: "Describe an instrument's methods and properties.")
    @OptionGroup var options: ClientOptions
    @Argument(help: "The instrument.") var name: String

    func run() async throws {
        try await options.run { labvisor in
            let description = try await labvisor.describe(name)
            if options.json { return try options.printJSON(description) }
            print("\(description.summary.name): \(description.summary.kind), driver \(description.summary.driver), \(description.summary.state)")
            print("methods:")
            for method in description.interface.methods {
                let arguments = method.arguments.map { "\($0.name): \($0.value.summary)\($0.isRequired ? "" : " = \($0.defaultValue!)")" }
                let flags = [method.access.rawValue] + (method.immediate ? ["immediate"] : [])
                print("  \(method.name)(\(arguments.joined(separator: ", ")))\(method.result.map { " -> \($0.summary)" } ?? "")  [\(flags.joined(separator: ", "))]  \(method.summary)")
            }
            print("properties:")
            for property in description.interface.properties {
                print("  \(property.name): \(property.value.summary)\(property.writable ? " (writable)" : "")  \(property.summary)")
            }
        }
    }
}

/// `labvisor call NAME METHOD [ARG=VALUE ...]`.
struct CallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "call", abstract: "Call a method; a control method takes a lease for the call unless one is given (LABVISOR_LEASE).")
    @OptionGroup var options: ClientOptions
    @Argument(help: "The instrument.") var name: String
    @Argument(help: "The method.") var method: String
    @Argument(help: "Arguments as NAME=VALUE (VALUE is JSON when it parses).") var arguments: [String] = []
    @Option(name: .customLong("args"), help: "Arguments as one JSON object.") var argumentsJSON: String?
    @Option(help: "The call's deadline (30s, 500ms).") var timeout: String?
    @Flag(help: "Return at once with a call id; the outcome is an event.") var oneway = false

    func run() async throws {
        let arguments = try parseArguments(self.arguments, json: argumentsJSON)
        let timeout = try self.timeout.map(parseDuration)
        try await options.run { labvisor in
            let token = ProcessInfo.processInfo.environment["LABVISOR_LEASE"]
            let access = try await labvisor.describe(name).interface.method(method).access
            let value: JSONValue
            if access == .control && token == nil {
                value = try await labvisor.withLease([name], timeout: .seconds(5)) { _ in
                    try await invoke(labvisor, arguments: arguments, timeout: timeout, token: nil)
                }
            } else {
                value = try await invoke(labvisor, arguments: arguments, timeout: timeout, token: token)
            }
            if options.json { return try options.printJSON(value) }
            if value != .null { print(value) }
        }
    }

    private func invoke(_ labvisor: Labvisor, arguments: [String: JSONValue], timeout: Duration?, token: String?) async throws -> JSONValue {
        if oneway {
            return .int(try await labvisor.invokeOneway(name, method, arguments, timeout: timeout, leaseToken: token))
        }
        return try await labvisor.invoke(name, method, arguments, timeout: timeout, leaseToken: token)
    }
}

/// `labvisor get NAME PROPERTY`.
struct GetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "get", abstract: "Read a property.")
    @OptionGroup var options: ClientOptions
    @Argument(help: "The instrument.") var name: String
    @Argument(help: "The property.") var property: String

    func run() async throws {
        try await options.run { labvisor in
            let value = try await labvisor.get(name, property)
            if options.json { return try options.printJSON(value) }
            print(value)
        }
    }
}

/// `labvisor set NAME PROPERTY VALUE`.
struct SetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set", abstract: "Write a property (takes a lease for the write unless LABVISOR_LEASE names one).")
    @OptionGroup var options: ClientOptions
    @Argument(help: "The instrument.") var name: String
    @Argument(help: "The property.") var property: String
    @Argument(help: "The value (JSON when it parses).") var value: String

    func run() async throws {
        let value = parseValue(self.value)
        try await options.run { labvisor in
            if let token = ProcessInfo.processInfo.environment["LABVISOR_LEASE"] {
                try await labvisor.set(name, property, value, leaseToken: token)
            } else {
                try await labvisor.withLease([name], timeout: .seconds(5)) { _ in try await labvisor.set(name, property, value) }
            }
        }
    }
}
