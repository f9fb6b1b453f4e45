/// One access list of the configuration (`control = ["group:optics"]` of an instrument, or of
/// `[access]`), with where it was written, so that a denial can name the rule.
public struct AccessList: Sendable, Hashable, CustomStringConvertible {
    /// Who it admits.
    public var entries: [AccessEntry]
    /// The table it is in, as a person reads it: `[instrument laser-488]` or `[access]`.
    public var table: String
    /// Its key (`observe`, `control`, `administer`).
    public var key: String
    /// The configuration file, and the key's line there when known.
    public var file: String?
    /// The key's 1-based line in `file`.
    public var line: Int?

    /// Creates a list.
    public init(entries: [AccessEntry], table: String, key: String, file: String? = nil, line: Int? = nil) {
        self.entries = entries
        self.table = table
        self.key = key
        self.file = file
        self.line = line
    }

    /// Whether it admits `caller`.
    public func admits(_ caller: CallerIdentity) -> Bool {
        entries.contains { caller.matches($0) }
    }

    /// The rule as a person reads it: `[instrument laser-488] control = ["group:optics"]
    /// (labvisord.toml line 42)`.
    public var description: String {
        let list = entries.map { "\"\($0)\"" }.joined(separator: ", ")
        var text = "\(table) \(key) = [\(list)]"
        if let file {
            let name = file.split(separator: "/").last.map(String.init) ?? file
            text += line.map { " (\(name) line \($0))" } ?? " (\(name))"
        }
        return text
    }
}
