import LabvisorHardware

/// Reads access lists (`observe`, `control`, `administer`: arrays of "user:NAME",
/// "group:NAME", "token:NAME", "cert:NAME" or "*") from `[access]` and `[[instrument]]` tables.
enum AccessConfiguration {
    /// The lists of `section`; `table` names it in denials (`[access]`,
    /// `[instrument laser-488]`); `text` gives their lines.
    static func read(_ section: inout TOMLSection, table: String, text: String) throws(LabvisorError) -> [AccessLevel: AccessList] {
        var lists: [AccessLevel: AccessList] = [:]
        for level in AccessLevel.allCases {
            guard let strings = try section.strings(level.key) else { continue }
            var entries: [AccessEntry] = []
            for string in strings {
                do {
                    entries.append(try AccessEntry(parsing: string))
                } catch {
                    throw section.error(level.key, error.fields["reason"]?.string ?? error.message)
                }
            }
            lists[level] = AccessList(
                entries: entries, table: table, key: level.key, file: section.file,
                line: TOMLKeyLocator.line(of: section.keyPath(level.key), in: text))
        }
        return lists
    }
}
