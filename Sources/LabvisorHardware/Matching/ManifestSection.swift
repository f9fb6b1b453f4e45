import LabvisorCore
import TOMLKit

/// One table of a manifest being read: typed getters that name the key path in their
/// errors, and a record of the keys read so that any other key is reported as unknown.
struct ManifestSection {
    let table: TOMLTable
    /// The key path of this table ("" for the root, "transport", "match[1]").
    let path: String
    let file: String
    private var read: Set<String> = []

    init(table: TOMLTable, path: String, file: String) {
        self.table = table
        self.path = path
        self.file = file
    }

    func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func error(_ key: String, _ reason: String) -> LabvisorError {
        .invalidManifest(file: file, key: keyPath(key), reason: reason)
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

    mutating func string(_ key: String, required: Bool = false) throws(LabvisorError) -> String? {
        guard let value = try value(key, required: required) else { return nil }
        guard let string = value.string else { throw wrongType(key, expected: "a string", found: value) }
        return string
    }

    mutating func int(_ key: String, required: Bool = false, in range: ClosedRange<Int>? = nil) throws(LabvisorError)
        -> Int?
    {
        guard let value = try value(key, required: required) else { return nil }
        guard let int = value.int else { throw wrongType(key, expected: "an integer", found: value) }
        if let range, !range.contains(int) {
            throw error(key, "\(int) is out of range \(range.lowerBound)...\(range.upperBound)")
        }
        return int
    }

    mutating func bool(_ key: String) throws(LabvisorError) -> Bool? {
        guard let value = try value(key, required: false) else { return nil }
        guard let bool = value.bool else { throw wrongType(key, expected: "true or false", found: value) }
        return bool
    }

    /// A string that must be one of `allowed`.
    mutating func choice(_ key: String, required: Bool = false, allowed: [String]) throws(LabvisorError) -> String? {
        guard let string = try string(key, required: required) else { return nil }
        guard allowed.contains(string) else {
            throw error(key, "'\(string)' is not one of \(allowed.map { "\"\($0)\"" }.joined(separator: ", "))")
        }
        return string
    }

    mutating func section(_ key: String, required: Bool = false) throws(LabvisorError) -> ManifestSection? {
        guard let value = try value(key, required: required) else { return nil }
        guard let table = value.table else { throw wrongType(key, expected: "a table ([\(keyPath(key))])", found: value) }
        return ManifestSection(table: table, path: keyPath(key), file: file)
    }

    /// An array of tables (`[[key]]`); an absent key is an empty array.
    mutating func sections(_ key: String) throws(LabvisorError) -> [ManifestSection] {
        guard let value = try value(key, required: false) else { return [] }
        guard let array = value.array else {
            throw wrongType(key, expected: "an array of tables ([[\(keyPath(key))]])", found: value)
        }
        var sections: [ManifestSection] = []
        for (index, element) in array.enumerated() {
            guard let table = element.table else {
                throw error("\(key)[\(index)]", "expected a table, found \(element.type.description)")
            }
            sections.append(ManifestSection(table: table, path: "\(keyPath(key))[\(index)]", file: file))
        }
        return sections
    }

    /// Throws for the first key (in sorted order) that no getter asked for.
    func rejectUnknownKeys(allowed extra: Set<String> = []) throws(LabvisorError) {
        for key in table.keys.sorted() where !read.contains(key) && !extra.contains(key) {
            throw error(key, "unknown key")
        }
    }
}
