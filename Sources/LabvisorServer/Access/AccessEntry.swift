/// One entry of an access list: who it admits (`"user:alice"`, `"group:lab"`,
/// `"token:ci-runner"`, `"cert:ci-runner"`, or `"*"` for every authenticated caller).
public enum AccessEntry: Sendable, Hashable, CustomStringConvertible {
    /// Everyone who got in (unix socket peers, authenticated TCP clients).
    case anyone
    /// A unix user by name (`user:alice`), or by uid (`user:1000`).
    case user(String)
    /// Members of a unix group by name (`group:lab`), primary or supplementary.
    case group(String)
    /// A TCP client that authenticated with the token of this name (`token:ci-runner`).
    case token(String)
    /// A TCP client whose verified client certificate has this common name (`cert:ci-runner`).
    case certificate(String)

    /// Parses an entry.
    ///
    /// - Throws: `invalidArgument` naming the text and the forms there are.
    public init(parsing text: String) throws(LabvisorError) {
        if text == "*" {
            self = .anyone
            return
        }
        guard let colon = text.firstIndex(of: ":"), text.index(after: colon) != text.endIndex else {
            throw Self.problem(text)
        }
        let name = String(text[text.index(after: colon)...])
        switch text[..<colon] {
        case "user": self = .user(name)
        case "group": self = .group(name)
        case "token": self = .token(name)
        case "cert": self = .certificate(name)
        default: throw Self.problem(text)
        }
    }

    private static func problem(_ text: String) -> LabvisorError {
        LabvisorError.invalidArgument(
            "access entry", "'\(text)' is not an access entry: use \"user:NAME\", \"group:NAME\", \"token:NAME\", \"cert:NAME\" or \"*\"")
    }

    public var description: String {
        switch self {
        case .anyone: "*"
        case .user(let name): "user:\(name)"
        case .group(let name): "group:\(name)"
        case .token(let name): "token:\(name)"
        case .certificate(let name): "cert:\(name)"
        }
    }
}
