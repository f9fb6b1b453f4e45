/// A requirements query: a MongoDB-style filter over an instrument's document, used to pick
/// instruments ("any free stage in room B12 with travel >= 20 mm"). The language is described
/// in `docs/requirements.md`.
///
/// The query is parsed once (see `RequirementQueryParser.swift`) into a compiled tree: field
/// paths are split into segments, regular expressions are compiled, and evaluation walks the
/// document without allocating.
public struct RequirementQuery: Sendable, Hashable, CustomStringConvertible {
    /// The JSON the query was parsed from (for records and messages).
    public let json: JSONValue
    let root: QueryNode

    /// Parses a query from its JSON form; throws `LabvisorError(.invalidArgument)` naming the
    /// path and reason in its `path` and `reason` fields.
    public init(parsing json: JSONValue) throws(LabvisorError) {
        self.root = try RequirementQueryParser.parse(json)
        self.json = json
    }

    private init(json: JSONValue, root: QueryNode) {
        self.json = json
        self.root = root
    }

    /// The query that matches every instrument (`{}`).
    public static let all = RequirementQuery(json: .object([:]), root: .and([]))

    /// Whether `document` satisfies the query.
    public func matches(_ document: JSONValue) -> Bool {
        root.matches(document)
    }

    /// The JSON's compact text.
    public var description: String { json.description }

    public static func == (left: RequirementQuery, right: RequirementQuery) -> Bool {
        left.json == right.json
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(json)
    }
}

// MARK: - Compiled tree

/// A query-level node: logical operators over field conditions.
indirect enum QueryNode: Sendable {
    case and([QueryNode])
    case or([QueryNode])
    case not(QueryNode)
    /// A field path and the conditions on it, all of which must hold.
    case field(FieldPath, [FieldCondition])

    /// A rough cost of evaluating the node, used to try cheap clauses first: `$and` stops at
    /// the first clause that fails and `$or` at the first that holds, and clauses have no side
    /// effects, so the order changes only the time taken, never the answer.
    var estimatedCost: Int {
        switch self {
        case .and(let nodes), .or(let nodes): nodes.reduce(1) { $0 + $1.estimatedCost }
        case .not(let node): node.estimatedCost + 1
        case .field(let path, let conditions): conditions.reduce(path.segments.count) { $0 + $1.estimatedCost }
        }
    }

    /// `nodes`, cheapest first (stable for equal costs).
    static func cheapestFirst(_ nodes: [QueryNode]) -> [QueryNode] {
        nodes.enumerated().sorted { left, right in
            let (a, b) = (left.element.estimatedCost, right.element.estimatedCost)
            return a != b ? a < b : left.offset < right.offset
        }.map(\.element)
    }

    func matches(_ document: JSONValue) -> Bool {
        switch self {
        case .and(let nodes):
            for node in nodes where !node.matches(document) { return false }
            return true
        case .or(let nodes):
            for node in nodes where node.matches(document) { return true }
            return false
        case .not(let node):
            return !node.matches(document)
        case .field(let path, let conditions):
            switch path.resolveSimple(document) {
            case .value(let value):
                for condition in conditions where !condition.holds(value: value) { return false }
                return true
            case .missing:
                for condition in conditions where !condition.holds(value: nil) { return false }
                return true
            case .traversal:
                for condition in conditions where !condition.holds(path: path, document: document) {
                    return false
                }
                return true
            }
        }
    }
}

/// One segment of a dotted field path: a member name, and the array index it denotes when it
/// is all digits.
struct PathSegment: Sendable {
    let name: String
    let index: Int?
}

/// A dotted field path, split once at parse time.
struct FieldPath: Sendable {
    let segments: [PathSegment]

    enum Simple {
        /// The path resolved to exactly this value without meeting an array to traverse.
        case value(JSONValue)
        /// The path resolved to nothing without meeting an array to traverse.
        case missing
        /// The path meets an array with a non-numeric segment: each condition must visit every
        /// value the path reaches (`anyResolved`).
        case traversal
    }

    /// Walks objects (and arrays by numeric index) without allocating; reports `.traversal`
    /// when the path has to continue into every element of an array.
    @inline(__always)
    func resolveSimple(_ document: JSONValue) -> Simple {
        var current = document
        for segment in segments {
            switch current {
            case .object(let members):
                guard let next = members[segment.name] else { return .missing }
                current = next
            case .array(let elements):
                guard let index = segment.index else { return .traversal }
                guard index < elements.count else { return .missing }
                current = elements[index]
            default:
                return .missing
            }
        }
        return .value(current)
    }

    /// Whether any value the path resolves to in `value` (from segment `position` on)
    /// satisfies `predicate`. A missing value is offered to the predicate as `nil`.
    func anyResolved(_ value: JSONValue?, from position: Int, satisfies predicate: FieldPredicate) -> Bool {
        guard position < segments.count else { return predicate.holdsForAny(value) }
        guard let value else { return predicate.test(nil) }
        let segment = segments[position]
        switch value {
        case .object(let members):
            return anyResolved(members[segment.name], from: position + 1, satisfies: predicate)
        case .array(let elements):
            if let index = segment.index {
                let element = index < elements.count ? elements[index] : nil
                return anyResolved(element, from: position + 1, satisfies: predicate)
            }
            // Mongo semantics: the path continues into every element. Elements that are not
            // objects (and an empty array) do not have the member: they resolve to missing.
            if elements.isEmpty { return predicate.test(nil) }
            for element in elements {
                if case .object(let members) = element {
                    if anyResolved(members[segment.name], from: position + 1, satisfies: predicate) {
                        return true
                    }
                } else if predicate.test(nil) {
                    return true
                }
            }
            return false
        default:
            return predicate.test(nil)
        }
    }
}

/// A condition on one field. Positive operators hold when any resolved value satisfies their
/// predicate; negative ones (`$ne`, `$nin`, `$exists: false`) are the negation of their
/// positive counterpart; `$not` negates the conjunction of its conditions.
enum FieldCondition: Sendable {
    case any(FieldPredicate)
    case none(FieldPredicate)
    case not([FieldCondition])

    /// A rough cost, for `QueryNode.estimatedCost`.
    var estimatedCost: Int {
        switch self {
        case .any(let predicate), .none(let predicate): predicate.estimatedCost
        case .not(let conditions): conditions.reduce(1) { $0 + $1.estimatedCost }
        }
    }

    /// Evaluates the condition when the path resolved simply (no array traversal).
    func holds(value: JSONValue?) -> Bool {
        switch self {
        case .any(let predicate): return predicate.holdsForAny(value)
        case .none(let predicate): return !predicate.holdsForAny(value)
        case .not(let conditions):
            for condition in conditions where !condition.holds(value: value) { return true }
            return false
        }
    }

    /// Evaluates the condition when the path traverses arrays.
    func holds(path: FieldPath, document: JSONValue) -> Bool {
        switch self {
        case .any(let predicate): return path.anyResolved(document, from: 0, satisfies: predicate)
        case .none(let predicate): return !path.anyResolved(document, from: 0, satisfies: predicate)
        case .not(let conditions):
            for condition in conditions where !condition.holds(path: path, document: document) {
                return true
            }
            return false
        }
    }
}

/// A test of one candidate value (`nil` when the field is missing).
enum FieldPredicate: Sendable {
    /// Equality with a literal; a `null` literal also matches a missing field.
    case equals(JSONValue)
    /// Equality with any of the literals.
    case isIn(InSet)
    case compare(Comparison, ComparisonOperand)
    /// The field is present (any value, including null).
    case exists
    case regex(CompiledRegex)

    enum Comparison: Sendable { case gt, gte, lt, lte }

    /// A rough cost: equality and presence are cheap, sets and comparisons middling,
    /// regular expressions dear.
    var estimatedCost: Int {
        switch self {
        case .equals, .exists: 1
        case .compare: 2
        case .isIn: 3
        case .regex: 8
        }
    }

    /// Whether `value` or, when it is an array, any of its elements satisfies the predicate
    /// (Mongo's implicit array matching at the end of a path).
    @inline(__always)
    func holdsForAny(_ value: JSONValue?) -> Bool {
        if test(value) { return true }
        if case .array(let elements)? = value {
            for element in elements where test(element) { return true }
        }
        return false
    }

    /// Whether one candidate satisfies the predicate.
    func test(_ value: JSONValue?) -> Bool {
        switch self {
        case .equals(let literal):
            return Self.equal(value, literal)
        case .isIn(let set):
            return set.contains(value)
        case .compare(let comparison, let operand):
            guard let value else { return false }
            return operand.compare(value, comparison)
        case .exists:
            return value != nil
        case .regex(let regex):
            guard case .string(let text)? = value else { return false }
            return regex.matches(text)
        }
    }

    @inline(__always)
    static func equal(_ value: JSONValue?, _ literal: JSONValue) -> Bool {
        switch literal {
        case .null:
            guard let value else { return true }
            if case .null = value { return true }
            return false
        case .string(let expected):
            if case .string(let actual)? = value { return actual == expected }
            return false
        case .bool(let expected):
            if case .bool(let actual)? = value { return actual == expected }
            return false
        default:
            guard let value else { return false }
            return value.matches(literal)
        }
    }
}

/// The operand of `$in` / `$nin`, with strings in a set when there are many of them.
struct InSet: Sendable {
    static let setThreshold = 8
    let strings: Set<String>
    let others: [JSONValue]

    init(_ elements: [JSONValue]) {
        let stringCount = elements.reduce(0) { $0 + ($1.string == nil ? 0 : 1) }
        if stringCount >= Self.setThreshold {
            strings = Set(elements.compactMap(\.string))
            others = elements.filter { $0.string == nil }
        } else {
            strings = []
            others = elements
        }
    }

    func contains(_ value: JSONValue?) -> Bool {
        if !strings.isEmpty, case .string(let text)? = value, strings.contains(text) { return true }
        for literal in others where FieldPredicate.equal(value, literal) { return true }
        return false
    }
}

/// The operand of `$gt`, `$gte`, `$lt`, `$lte`: numbers compare with numbers, strings with
/// strings; any other combination does not match.
enum ComparisonOperand: Sendable {
    case int(Int)
    case double(Double)
    case string(String)

    @inline(__always)
    func compare(_ value: JSONValue, _ comparison: FieldPredicate.Comparison) -> Bool {
        switch (value, self) {
        case (.int(let left), .int(let right)):
            return Self.apply(left, right, comparison)
        case (.int(let left), .double(let right)):
            return Self.apply(Double(left), right, comparison)
        case (.double(let left), .int(let right)):
            return Self.apply(left, Double(right), comparison)
        case (.double(let left), .double(let right)):
            return Self.apply(left, right, comparison)
        case (.string(let left), .string(let right)):
            return Self.apply(left, right, comparison)
        default:
            return false
        }
    }

    @inline(__always)
    private static func apply<T: Comparable>(_ left: T, _ right: T, _ comparison: FieldPredicate.Comparison) -> Bool {
        switch comparison {
        case .gt: left > right
        case .gte: left >= right
        case .lt: left < right
        case .lte: left <= right
        }
    }
}

/// A regular expression compiled once at parse time.
///
/// `Regex<AnyRegexOutput>` is not `Sendable` (its output type holds `Any`), so the compiled
/// regex lives in this class. `@unchecked Sendable` is safe because:
/// - every stored property is a `let` set in `init` and never mutated afterwards, and the
///   class has no mutating API;
/// - matching a `Regex` is non-mutating: each match runs on its own, local executor state;
/// - the one piece of shared state inside a `Regex`, its lazily lowered program (stored with
///   an atomic initialize), is forced in `init` by a warm-up match, before the instance can be
///   shared, so later matches from any thread only read it.
final class CompiledRegex: @unchecked Sendable {
    let regex: Regex<AnyRegexOutput>
    /// Set when the pattern is a plain literal, optionally anchored (`^stage`, `-x$`): it is
    /// then searched byte-wise in printable-ASCII text, where bytes, characters and case
    /// folding all agree with the `Regex`.
    let literal: LiteralPattern?

    init(pattern: String, ignoresCase: Bool) throws {
        let compiled = try Regex(pattern)
        self.regex = ignoresCase ? compiled.ignoresCase() : compiled
        self.literal = LiteralPattern(pattern, ignoresCase: ignoresCase)
        _ = "".contains(regex)  // Lowers the program now (see above).
    }

    func matches(_ text: String) -> Bool {
        if let literal, let found = literal.matches(text) { return found }
        return text.contains(regex)
    }
}

/// A regular expression that is an ASCII literal with optional `^` and `$` anchors.
struct LiteralPattern {
    let bytes: [UInt8]
    let anchoredAtStart: Bool
    let anchoredAtEnd: Bool
    let ignoresCase: Bool

    /// `nil` unless every byte of the pattern, anchors aside, is a printable ASCII character
    /// that is not a metacharacter.
    init?(_ pattern: String, ignoresCase: Bool) {
        var body = Array(pattern.utf8)
        anchoredAtStart = body.first == UInt8(ascii: "^")
        if anchoredAtStart { body.removeFirst() }
        anchoredAtEnd = body.last == UInt8(ascii: "$")
        if anchoredAtEnd { body.removeLast() }
        for byte in body {
            guard Self.isPrintable(byte), !Self.metacharacters.contains(byte) else { return nil }
        }
        self.bytes = ignoresCase ? body.map(Self.lower) : body
        self.ignoresCase = ignoresCase
    }

    private static let metacharacters = Set("\\^$.|?*+()[]{}#".utf8)

    @inline(__always)
    private static func isPrintable(_ byte: UInt8) -> Bool { byte >= 0x20 && byte < 0x7F }

    @inline(__always)
    private static func lower(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }

    /// Whether `text` contains the literal; `nil` when `text` is not printable ASCII (where the
    /// `Regex`'s character semantics may differ from bytes), so the caller uses the `Regex`.
    func matches(_ text: String) -> Bool? {
        let result = text.utf8.withContiguousStorageIfAvailable { haystack -> Bool? in
            for byte in haystack where !Self.isPrintable(byte) { return nil }
            let count = bytes.count
            guard haystack.count >= count else { return false }
            let last = haystack.count - count
            switch (anchoredAtStart, anchoredAtEnd) {
            case (true, true): return last == 0 && occurs(in: haystack, at: 0)
            case (true, false): return occurs(in: haystack, at: 0)
            case (false, true): return occurs(in: haystack, at: last)
            case (false, false):
                for start in 0...last where occurs(in: haystack, at: start) { return true }
                return false
            }
        }
        return result ?? nil
    }

    @inline(__always)
    private func occurs(in haystack: UnsafeBufferPointer<UInt8>, at start: Int) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let byte = haystack[start + offset]
            if (ignoresCase ? Self.lower(byte) : byte) != bytes[offset] { return false }
            offset += 1
        }
        return true
    }
}
