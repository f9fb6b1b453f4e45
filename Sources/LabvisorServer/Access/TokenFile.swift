import Foundation

/// The tokens file of the TCP listener (`[daemon] tokens`): one token per line as
/// `NAME:SHA256HEX`, the name the access lists use (`token:NAME`) and the SHA-256 of the
/// token's UTF-8 bytes in hex (`labvisord --hash-token NAME` prints such a line). Blank lines
/// and lines starting with `#` are ignored. Tokens are never stored in the clear.
public struct TokenFile: Sendable, Hashable {
    /// Token names by the hex digest of the token.
    public private(set) var names: [String: String]
    /// The file, for messages.
    public var file: String

    /// Parses the text of a tokens file.
    ///
    /// - Throws: `invalidArgument` naming the file, the line and what is wrong.
    public init(parsing text: String, file: String) throws(LabvisorError) {
        self.file = file
        names = [:]
        var seen: Set<String> = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let problem = { (reason: String) in
                LabvisorError(
                    .invalidArgument, "invalid tokens file \(file):\(index + 1): \(reason)",
                    fields: ["file": .string(file), "line": .int(index + 1), "reason": .string(reason)])
            }
            guard let colon = line.lastIndex(of: ":") else {
                throw problem("expected NAME:SHA256HEX (labvisord --hash-token NAME prints one)")
            }
            let name = String(line[..<colon]).trimmingCharacters(in: .whitespaces)
            let digest = String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces).lowercased()
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.@".contains($0) }) else {
                throw problem("'\(name)' is not a token name (letters, digits, '-', '_', '.', '@')")
            }
            guard digest.count == 64, digest.allSatisfy(\.isHexDigit) else {
                throw problem("the hash of token '\(name)' must be 64 hex digits (SHA-256), got '\(digest)'")
            }
            guard seen.insert(name).inserted else { throw problem("token '\(name)' is named twice") }
            guard names[digest] == nil else { throw problem("token '\(name)' has the same hash as token '\(names[digest]!)'") }
            names[digest] = name
        }
    }

    /// Reads `path`.
    ///
    /// - Throws: `notFound` for a missing file; `invalidArgument` as `init(parsing:file:)`.
    public static func load(_ path: String) throws(LabvisorError) -> TokenFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LabvisorError(.notFound, "no tokens file at \(path)", fields: ["file": .string(path)])
        }
        return try TokenFile(parsing: String(decoding: data, as: UTF8.self), file: path)
    }

    /// The name of `token`, or `nil` when the file does not list it.
    public func name(of token: String) -> String? {
        names[SHA256Digest.hex(token)]
    }

    /// The file's line for `token` named `name`.
    public static func line(name: String, token: String) -> String {
        "\(name):\(SHA256Digest.hex(token))"
    }
}
