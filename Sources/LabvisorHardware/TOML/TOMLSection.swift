import LabvisorCore
import TOMLKit

/// One table of a TOML document being read (a driver manifest, the daemon's configuration):
/// typed getters that name the key path in their errors, and a record of the keys read so
/// that any other key is reported as unknown. Errors are `invalidArgument` with the file, the
/// key path, the reason and (through `TOMLSection.parse`) the line.
public struct TOMLSection {
    /// The table.
    public let table: TOMLTable
    /// The key path of this table ("" for the root, "transport", "match[1]").
    public let path: String
    /// The file, for errors.
    public let file: String
    /// What the document is, for errors ("driver manifest", "configuration").
    public let document: String
    private var read: Set<String> = []

    /// A section of `table` at `path`.
    public init(table: TOMLTable, path: String, file: String, document: String) {
        self.table = table
        self.path = path
        self.file = file
        self.document = document
    }

    /// Parses `text` and reads it with `body` from its root; errors from `body` that name a
    /// key get the key's line when the text shows it unambiguously.
    public static func parse<Value>(
        _ text: String, file: String, document: String, _ body: (inout TOMLSection) throws(LabvisorError) -> Value
    ) throws(LabvisorError) -> Value {
        if let problem = TOMLPreflight.firstProblem(in: text) {
            throw LabvisorError.invalidTOML(
                document: document, file: file, key: "", reason: "TOML syntax: \(problem.reason) (column \(problem.column))",
                line: problem.line)
        }
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw LabvisorError.invalidTOML(
                document: document, file: file, key: "", reason: "TOML syntax: \(error.description)", line: error.source.begin.line)
        } catch {
            throw LabvisorError.invalidTOML(document: document, file: file, key: "", reason: "TOML syntax: \(error)")
        }
        var root = TOMLSection(table: table, path: "", file: file, document: document)
        do {
            return try body(&root)
        } catch {
            guard error.fields["line"] == nil, let key = error.fields["key"]?.string, !key.isEmpty,
                let reason = error.fields["reason"]?.string, let line = TOMLKeyLocator.line(of: key, in: text)
            else { throw error }
            throw LabvisorError.invalidTOML(document: document, file: file, key: key, reason: reason, line: line)
        }
    }

    /// The full key path of `key` in this section.
    public func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The error for `key`.
    public func error(_ key: String, _ reason: String) -> LabvisorError {
        .invalidTOML(document: document, file: file, key: keyPath(key), reason: reason)
    }

    private mutating func value(_ key: String, required: Bool) throws(LabvisorError) -> TOMLValueConvertible? {
        read.insert(key)
        guard let value = table[key] else {
            if required { throw error(key, "missing required key") }
            return nil
        }
        return value
    }

    private func wrongType(_ key: String, expected: String, found value: TOMLValueConvertible) -> LabvisorError {
        error(key, "expected \(expected), found \(value.type.description)")
    }

    /// A string, or `nil` when absent (an error when `required`).
    public mutating func string(_ key: String, required: Bool = false) throws(LabvisorError) -> String? {
        guard let value = try value(key, required: required) else { return nil }
        guard let string = value.string else { throw wrongType(key, expected: "a string", found: value) }
        return string
    }

    /// An integer, optionally within `range`.
    public mutating func int(_ key: String, required: Bool = false, in range: ClosedRange<Int>? = nil) throws(LabvisorError)
        -> Int?
    {
        guard let value = try value(key, required: required) else { return nil }
        guard let int = value.int else { throw wrongType(key, expected: "an integer", found: value) }
        if let range, !range.contains(int) {
            throw error(key, "\(int) is out of range \(range.lowerBound)...\(range.upperBound)")
        }
        return int
    }

    /// `true` or `false`.
    public mutating func bool(_ key: String) throws(LabvisorError) -> Bool? {
        guard let value = try value(key, required: false) else { return nil }
        guard let bool = value.bool else { throw wrongType(key, expected: "true or false", found: value) }
        return bool
    }

    /// A string that must be one of `allowed`.
    public mutating func choice(_ key: String, required: Bool = false, allowed: [String]) throws(LabvisorError) -> String? {
        guard let string = try string(key, required: required) else { return nil }
        guard allowed.contains(string) else {
            throw error(key, "'\(string)' is not one of \(allowed.map { "\"\($0)\"" }.joined(separator: ", "))")
        }
        return string
    }

    /// A table (`[key]`).
    public mutating func section(_ key: String, required: Bool = false) throws(LabvisorError) -> TOMLSection? {
        guard let value = try value(key, required: required) else { return nil }
        guard let table = value.table else { throw wrongType(key, expected: "a table ([\(keyPath(key))])", found: value) }
        return TOMLSection(table: table, path: keyPath(key), file: file, document: document)
    }

    /// An array of tables (`[[key]]`); an absent key is an empty array.
    public mutating func sections(_ key: String) throws(LabvisorError) -> [TOMLSection] {
        guard let value = try value(key, required: false) else { return [] }
        guard let array = value.array else {
            throw wrongType(key, expected: "an array of tables ([[\(keyPath(key))]])", found: value)
        }
        var sections: [TOMLSection] = []
        for (index, element) in array.enumerated() {
            guard let table = element.table else {
                throw error("\(key)[\(index)]", "expected a table, found \(element.type.description)")
            }
            sections.append(TOMLSection(table: table, path: "\(keyPath(key))[\(index)]", file: file, document: document))
        }
        return sections
    }

    /// A number (integer or float), optionally within `range`.
    public mutating func double(_ key: String, required: Bool = false, in range: ClosedRange<Double>? = nil) throws(LabvisorError)
        -> Double?
    {
        guard let value = try value(key, required: required) else { return nil }
        guard let number = value.double ?? value.int.map(Double.init) else {
            throw wrongType(key, expected: "a number", found: value)
        }
        if let range, !range.contains(number) {
            throw error(key, "\(number) is out of range \(range.lowerBound)...\(range.upperBound)")
        }
        return number
    }

    /// An array of strings.
    public mutating func strings(_ key: String) throws(LabvisorError) -> [String]? {
        guard let value = try value(key, required: false) else { return nil }
        guard let array = value.array else { throw wrongType(key, expected: "an array of strings", found: value) }
        var strings: [String] = []
        for (index, element) in array.enumerated() {
            guard let string = element.string else {
                throw error("\(key)[\(index)]", "expected a string, found \(element.type.description)")
            }
            strings.append(string)
        }
        return strings
    }

    /// Any value, as JSON (tables become objects; dates and times become strings).
    public mutating func json(_ key: String) throws(LabvisorError) -> JSONValue? {
        guard let value = try value(key, required: false) else { return nil }
        return Self.json(value)
    }

    private static func json(_ value: TOMLValueConvertible) -> JSONValue {
        if let bool = value.bool { return .bool(bool) }
        if let int = value.int { return .int(int) }
        if let double = value.double { return .double(double) }
        if let string = value.string { return .string(string) }
        if let array = value.array { return .array(array.map { json($0) }) }
        if let table = value.table {
            var object: [String: JSONValue] = [:]
            for key in table.keys { if let member = table[key] { object[key] = json(member) } }
            return .object(object)
        }
        return .string("\(value)")
    }

    /// Throws for the first key (in sorted order) that no getter asked for.
    public func rejectUnknownKeys(allowed extra: Set<String> = []) throws(LabvisorError) {
        for key in table.keys.sorted() where !read.contains(key) && !extra.contains(key) {
            throw error(key, "unknown key")
        }
    }
}
