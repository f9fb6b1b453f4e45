/// A SCPI command header as the OBIS manual writes it (`SOURce:POWer:LEVel?`): each node
/// has a long form and a short form (its upper-case letters), and the device accepts either,
/// in any case.
struct SCPIHeader: Sendable {
    /// The nodes, each as (short form, long form), upper-cased.
    let nodes: [(short: String, long: String)]
    /// Whether the header ends in `?`.
    let isQuery: Bool

    /// Parses the manual's notation (`SYSTem:INFormation:MODel?`).
    init(_ notation: String) {
        isQuery = notation.hasSuffix("?")
        let path = isQuery ? String(notation.dropLast()) : notation
        nodes = path.split(separator: ":").map { node in
            (String(node.filter(\.isUppercase)).uppercased(), node.uppercased())
        }
    }

    /// Whether `header` (as the host sent it, without arguments) names this command.
    func matches(_ header: String) -> Bool {
        var path = header.uppercased()
        guard path.hasSuffix("?") == isQuery else { return false }
        if isQuery { path.removeLast() }
        if path.hasPrefix(":") { path.removeFirst() }
        let sent = path.split(separator: ":", omittingEmptySubsequences: false)
        guard sent.count == nodes.count else { return false }
        return zip(sent, nodes).allSatisfy { word, node in word == node.short || word == node.long }
    }
}
