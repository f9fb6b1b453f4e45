/// Checks TOML text for what makes the TOML library abort the process, before the text
/// reaches it, and answers with a line, a column and a reason instead.
///
/// toml++ (inside TOMLKit) asserts, in release builds too, that a table header's key starts
/// with a key character or a quote (`[[ = instrument]]` aborted `labvisord --check-config`);
/// `HostileInputFuzzTests` found it. The check follows strings, comments and the nesting of
/// arrays and inline tables (a `[` at the start of a line inside a multi-line array is a value,
/// not a header), and also refuses non-ASCII characters outside strings and comments, which
/// TOML 1.0 does not allow there and which reached the same assertion.
enum TOMLPreflight {
    /// A problem at a place in the text.
    struct Problem: Equatable {
        var line: Int
        var column: Int
        var reason: String
    }

    /// The first problem in `text`, if any.
    static func firstProblem(in text: String) -> Problem? {
        enum Context { case code, comment, basic, literal, multilineBasic, multilineLiteral }
        let bytes = Array(text.utf8)
        var context = Context.code
        var line = 1
        var lineStart = 0
        var index = 0
        var nesting = 0  // open arrays and inline tables of values
        var atLineStart = true
        func starts(_ quote: UInt8, count: Int) -> Bool {
            index + count <= bytes.count && bytes[index..<(index + count)].allSatisfy { $0 == quote }
        }
        func problem(_ reason: String) -> Problem { Problem(line: line, column: index - lineStart + 1, reason: reason) }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == 0x0A {
                line += 1
                lineStart = index + 1
                atLineStart = true
                if context == .comment || context == .basic || context == .literal { context = .code }
                index += 1
                continue
            }
            switch context {
            case .code:
                if byte >= 0x80 { return problem("a non-ASCII character outside a string or a comment") }
                if byte == 0x20 || byte == 0x09 || byte == 0x0D { break }
                if atLineStart, nesting == 0, byte == UInt8(ascii: "[") {
                    // A table header: `[` or `[[`, blanks, then a key.
                    var next = index + 1
                    if next < bytes.count, bytes[next] == UInt8(ascii: "[") { next += 1 }
                    while next < bytes.count, bytes[next] == 0x20 || bytes[next] == 0x09 { next += 1 }
                    if next < bytes.count, !isKeyStart(bytes[next]), bytes[next] != UInt8(ascii: "]") {
                        index = next
                        return problem("a table header must name a key (a letter, digit, '_', '-' or a quote), not '\(printable(bytes[next]))'")
                    }
                    // The header's brackets do not nest values: skip to its end.
                    while index < bytes.count, bytes[index] != 0x0A, bytes[index] != UInt8(ascii: "#") {
                        if bytes[index] >= 0x80 { return problem("a non-ASCII character outside a string or a comment") }
                        if bytes[index] == UInt8(ascii: "\"") || bytes[index] == UInt8(ascii: "'") { break }
                        index += 1
                    }
                    atLineStart = false
                    continue
                }
                atLineStart = false
                switch byte {
                case UInt8(ascii: "#"): context = .comment
                case UInt8(ascii: "["), UInt8(ascii: "{"): nesting += 1
                case UInt8(ascii: "]"), UInt8(ascii: "}"): nesting = max(0, nesting - 1)
                case UInt8(ascii: "\""):
                    if starts(UInt8(ascii: "\""), count: 3) {
                        context = .multilineBasic
                        index += 2
                    } else {
                        context = .basic
                    }
                case UInt8(ascii: "'"):
                    if starts(UInt8(ascii: "'"), count: 3) {
                        context = .multilineLiteral
                        index += 2
                    } else {
                        context = .literal
                    }
                default: break
                }
            case .comment:
                break
            case .basic, .multilineBasic:
                if byte == UInt8(ascii: "\\") {
                    index += 1  // the escaped character
                } else if context == .multilineBasic, starts(UInt8(ascii: "\""), count: 3) {
                    context = .code
                    index += 2
                } else if context == .basic, byte == UInt8(ascii: "\"") {
                    context = .code
                }
            case .literal:
                if byte == UInt8(ascii: "'") { context = .code }
            case .multilineLiteral:
                if starts(UInt8(ascii: "'"), count: 3) {
                    context = .code
                    index += 2
                }
            }
            index += 1
        }
        return nil
    }

    private static func isKeyStart(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "\""), UInt8(ascii: "'"):
            true
        default: false
        }
    }

    private static func printable(_ byte: UInt8) -> String {
        (0x21..<0x7F).contains(byte) ? String(UnicodeScalar(byte)) : "\\x" + String(byte, radix: 16)
    }
}
