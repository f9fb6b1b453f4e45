/// Finds the line of a key in TOML text (a manifest, a configuration), for error messages. TOMLKit reports source
/// positions for syntax errors only, not for the keys of a parsed table, so this looks the
/// key up in the text: `name = ...` inside the right table (`[transport]`, `[daemon.tls]`, the second
/// `[[match]]` for "match[1].vendor_id"), or a table header (`[name]`, `[[name]]`) for a
/// key that names a table. It answers only when exactly one line fits, and knows nothing
/// of inline tables, dotted keys or quoted keys (then it answers nothing): no line is
/// better than a wrong one.
public enum TOMLKeyLocator {
    /// The 1-based line of `keyPath` ("kind", "transport.baud", "match[1].vendor_id",
    /// "match[0]") in `text`, or `nil` when it is absent, ambiguous or written in a form this
    /// does not read.
    public static func line(of keyPath: String, in text: String) -> Int? {
        var components = keyPath.split(separator: ".").map(Component.init)
        guard let leaf = components.popLast(), components.dropLast().allSatisfy({ $0.index == nil }) else { return nil }
        // A nested table ("daemon.tls.key") is found by its dotted header (`[daemon.tls]`).
        let table = components.last.map { Component(name: components.map(\.name).joined(separator: "."), index: $0.index) }
        var found: [Int] = []
        var current = Component(name: "", index: nil)
        var arrayCounts: [String: Int] = [:]
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.drop { $0 == " " || $0 == "\t" }
            if line.hasPrefix("[") {
                let isArray = line.hasPrefix("[[")
                let name = String(line.drop { $0 == "[" || $0 == " " }.prefix { $0 != "]" && $0 != " " })
                var index: Int?
                if isArray {
                    index = arrayCounts[name, default: 0]
                    arrayCounts[name] = index! + 1
                }
                current = Component(name: name, index: index)
                // A header is the key when the key names a table at the root.
                if table == nil, name == leaf.name, leaf.index == nil || leaf.index == index { found.append(number + 1) }
            } else if current.name == (table?.name ?? ""), table?.index == nil || table?.index == current.index,
                line.hasPrefix(leaf.name), leaf.index == nil
            {
                let rest = line.dropFirst(leaf.name.count).drop { $0 == " " || $0 == "\t" }
                if rest.hasPrefix("=") { found.append(number + 1) }
            }
        }
        return found.count == 1 ? found[0] : nil
    }

    /// One component of a key path: "match[1]" is name "match", index 1.
    private struct Component: Equatable {
        var name: String
        var index: Int?

        init(name: String, index: Int?) {
            self.name = name
            self.index = index
        }

        init(_ text: Substring) {
            if let open = text.firstIndex(of: "["), text.hasSuffix("]") {
                name = String(text[..<open])
                index = Int(text[text.index(after: open)..<text.index(before: text.endIndex)])
            } else {
                name = String(text)
                index = nil
            }
        }
    }
}
