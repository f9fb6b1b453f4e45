/// A pattern for a USB string (serial number, manufacturer, product) or a udev property
/// value in a driver manifest.
///
/// The syntax is the glob that udev itself uses for `ATTRS{...}=="..."`, so a manifest
/// pattern goes into the generated udev rules unchanged and both sides agree on what
/// matches:
///
/// - `*` matches any run of characters (also none), `?` exactly one character;
/// - `[abc]`, `[a-z]` one character from the set, `[!abc]` (or `[^abc]`) one not in it;
/// - every other character matches itself, case-sensitively. A pattern without
///   metacharacters is therefore an exact match.
///
/// Not allowed, so that a pattern always means the same to Labvisor and to udev: `|`
/// (udev's alternatives: write two `[[match]]` rules instead), `\` (escapes), `"` (it
/// would end the udev string), control characters, an unterminated or empty `[...]`, and
/// the empty pattern.
public struct MatchPattern: Sendable, Hashable, CustomStringConvertible {
    /// The pattern as written in the manifest.
    public let text: String
    private let elements: [Element]

    private enum Element: Hashable {
        case literal(Character)
        case anyOne
        case anyRun
        case set(negated: Bool, members: [ClosedRange<Character>])
    }

    /// Parses a glob; throws a reason (a sentence) when it is malformed.
    public init(_ text: String) throws(MatchPatternError) {
        guard !text.isEmpty else { throw MatchPatternError(reason: "the pattern is empty") }
        var elements: [Element] = []
        let characters = Array(text)
        var index = 0
        while index < characters.count {
            let character = characters[index]
            switch character {
            case "*":
                if elements.last != .anyRun { elements.append(.anyRun) }
            case "?":
                elements.append(.anyOne)
            case "[":
                let (element, next) = try Self.parseSet(characters, from: index)
                elements.append(element)
                index = next
                continue
            case "|":
                throw MatchPatternError(reason: "'|' (alternatives) is not supported; write one [[match]] rule per alternative")
            case "\\":
                throw MatchPatternError(reason: "'\\' (escapes) is not supported")
            case "\"":
                throw MatchPatternError(reason: "'\"' is not allowed in a pattern")
            default:
                if character.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                    throw MatchPatternError(reason: "control characters are not allowed in a pattern")
                }
                elements.append(.literal(character))
            }
            index += 1
        }
        self.text = text
        self.elements = elements
    }

    /// Whether the pattern has no metacharacters (it matches exactly one string).
    public var isExact: Bool {
        elements.allSatisfy { if case .literal = $0 { true } else { false } }
    }

    /// Whether `candidate` matches the whole pattern.
    public func matches(_ candidate: String) -> Bool {
        let subject = Array(candidate)
        // Iterative glob matching with backtracking to the last `*` (linear in practice).
        var patternIndex = 0
        var subjectIndex = 0
        var starPattern = -1
        var starSubject = 0
        while subjectIndex < subject.count {
            if patternIndex < elements.count {
                switch elements[patternIndex] {
                case .anyRun:
                    starPattern = patternIndex
                    starSubject = subjectIndex
                    patternIndex += 1
                    continue
                case .anyOne:
                    patternIndex += 1
                    subjectIndex += 1
                    continue
                case .literal(let character) where character == subject[subjectIndex]:
                    patternIndex += 1
                    subjectIndex += 1
                    continue
                case .set(let negated, let members)
                where members.contains(where: { $0.contains(subject[subjectIndex]) }) != negated:
                    patternIndex += 1
                    subjectIndex += 1
                    continue
                default:
                    break
                }
            }
            guard starPattern >= 0 else { return false }
            patternIndex = starPattern + 1
            starSubject += 1
            subjectIndex = starSubject
        }
        while patternIndex < elements.count, elements[patternIndex] == .anyRun { patternIndex += 1 }
        return patternIndex == elements.count
    }

    public var description: String { text }

    private static func parseSet(_ characters: [Character], from start: Int) throws(MatchPatternError) -> (Element, Int) {
        var index = start + 1
        var negated = false
        if index < characters.count, characters[index] == "!" || characters[index] == "^" {
            negated = true
            index += 1
        }
        var members: [ClosedRange<Character>] = []
        var first = true
        while index < characters.count {
            let character = characters[index]
            if character == "]" && !first {
                guard !members.isEmpty else { break }
                return (.set(negated: negated, members: members), index + 1)
            }
            if character == "\\" || character == "\"" || character == "|" {
                throw MatchPatternError(reason: "'\(character)' is not allowed in a pattern")
            }
            first = false
            if index + 2 < characters.count, characters[index + 1] == "-", characters[index + 2] != "]" {
                let upper = characters[index + 2]
                guard character <= upper else {
                    throw MatchPatternError(reason: "the range '\(character)-\(upper)' is reversed")
                }
                members.append(character...upper)
                index += 3
            } else {
                members.append(character...character)
                index += 1
            }
        }
        throw MatchPatternError(reason: "'[' at position \(start + 1) has no closing ']'")
    }
}

/// Why a `MatchPattern` could not be parsed.
public struct MatchPatternError: Error, Sendable, Hashable {
    /// A sentence saying what is wrong.
    public var reason: String
}
