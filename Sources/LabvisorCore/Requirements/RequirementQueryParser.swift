/// Parses the JSON form of a requirements query into the compiled tree that
/// `RequirementQuery.matches(_:)` evaluates. Every error is a
/// `LabvisorError(.invalidArgument)` whose `path` field locates the problem
/// (`$and[1].tags.travel_mm.$gt`, `kind.$regex`, `(root)`) and whose `reason` says what is wrong.
///
/// Keys are visited in sorted order so that a query with several problems always reports the
/// same one.
enum RequirementQueryParser {
    /// How deeply `$and`, `$or` and `$not` may nest; deeper queries are rejected rather than
    /// risking the stack.
    static let maximumDepth = 64

    /// The path shown for the top level of the query.
    static let rootPath = "(root)"

    static func parse(_ json: JSONValue) throws(LabvisorError) -> QueryNode {
        try parseQuery(json, at: "", depth: 0)
    }

    // MARK: Query level

    private static func parseQuery(_ json: JSONValue, at path: String, depth: Int) throws(LabvisorError) -> QueryNode {
        guard depth <= maximumDepth else {
            throw failure(path, "query nests deeper than \(maximumDepth) levels")
        }
        guard case .object(let members) = json else {
            throw failure(path, "query must be an object, not \(describe(json))")
        }
        var clauses: [QueryNode] = []
        clauses.reserveCapacity(members.count)
        for key in members.keys.sorted() {
            let value = members[key]!
            guard key.hasPrefix("$") else {
                clauses.append(try parseField(key, value, parent: path, depth: depth))
                continue
            }
            let here = join(path, key)
            switch key {
            case "$and", "$or":
                guard case .array(let elements) = value, !elements.isEmpty else {
                    throw failure(here, "\(key) needs a non-empty array of queries, not \(describe(value))")
                }
                var nodes: [QueryNode] = []
                nodes.reserveCapacity(elements.count)
                for (index, element) in elements.enumerated() {
                    nodes.append(try parseQuery(element, at: "\(here)[\(index)]", depth: depth + 1))
                }
                clauses.append(key == "$and" ? .and(QueryNode.cheapestFirst(nodes)) : .or(QueryNode.cheapestFirst(nodes)))
            case "$not":
                guard case .object = value else {
                    throw failure(here, "$not needs a query object, not \(describe(value))")
                }
                clauses.append(.not(try parseQuery(value, at: here, depth: depth + 1)))
            default:
                throw failure(here, "unknown operator '\(key)'")
            }
        }
        return clauses.count == 1 ? clauses[0] : .and(QueryNode.cheapestFirst(clauses))
    }

    // MARK: Field level

    private static func parseField(_ key: String, _ value: JSONValue, parent: String, depth: Int) throws(LabvisorError) -> QueryNode {
        guard !key.isEmpty else { throw failure(parent, "empty field path") }
        let here = join(parent, key)
        let path = try parsePath(key, at: here)
        let conditions = try parseConditions(value, at: here, depth: depth)
        return .field(path, conditions)
    }

    private static func parsePath(_ key: String, at here: String) throws(LabvisorError) -> FieldPath {
        var segments: [PathSegment] = []
        for part in key.split(separator: ".", omittingEmptySubsequences: false) {
            guard !part.isEmpty else {
                throw failure(here, "field path '\(key)' has an empty segment")
            }
            guard !part.hasPrefix("$") else {
                throw failure(here, "field path segment '\(part)' must not start with '$'")
            }
            let name = String(part)
            let isIndex = name.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
            segments.append(PathSegment(name: name, index: isIndex ? Int(name) : nil))
        }
        return FieldPath(segments: segments)
    }

    /// A field's value: an operator object (all keys start with `$`) or a literal to equal.
    private static func parseConditions(_ value: JSONValue, at here: String, depth: Int) throws(LabvisorError) -> [FieldCondition] {
        guard case .object(let members) = value, members.keys.contains(where: { $0.hasPrefix("$") }) else {
            return [.any(.equals(value))]
        }
        return try parseOperators(members, at: here, depth: depth)
    }

    private static func parseOperators(_ members: [String: JSONValue], at here: String, depth: Int) throws(LabvisorError) -> [FieldCondition] {
        guard depth <= maximumDepth else {
            throw failure(here, "query nests deeper than \(maximumDepth) levels")
        }
        let keys = members.keys.sorted()
        if let plain = keys.first(where: { !$0.hasPrefix("$") }), let op = keys.first(where: { $0.hasPrefix("$") }) {
            throw failure(here, "mixed operator and field keys in one object ('\(op)' and '\(plain)')")
        }
        if members["$options"] != nil, members["$regex"] == nil {
            throw failure(join(here, "$options"), "$options needs a sibling $regex")
        }
        var conditions: [FieldCondition] = []
        conditions.reserveCapacity(keys.count)
        for key in keys {
            let operand = members[key]!
            let at = join(here, key)
            switch key {
            case "$eq":
                conditions.append(.any(.equals(operand)))
            case "$ne":
                conditions.append(.none(.equals(operand)))
            case "$gt", "$gte", "$lt", "$lte":
                let comparison: FieldPredicate.Comparison =
                    switch key {
                    case "$gt": .gt
                    case "$gte": .gte
                    case "$lt": .lt
                    default: .lte
                    }
                let bound: ComparisonOperand
                switch operand {
                case .int(let number): bound = .int(number)
                case .double(let number): bound = .double(number)
                case .string(let text): bound = .string(text)
                default: throw failure(at, "operand must be a number or a string, not \(describe(operand))")
                }
                conditions.append(.any(.compare(comparison, bound)))
            case "$in", "$nin":
                guard case .array(let elements) = operand else {
                    throw failure(at, "\(key) needs an array, not \(describe(operand))")
                }
                let set = InSet(elements)
                conditions.append(key == "$in" ? .any(.isIn(set)) : .none(.isIn(set)))
            case "$exists":
                guard case .bool(let wanted) = operand else {
                    throw failure(at, "$exists needs a boolean, not \(describe(operand))")
                }
                conditions.append(wanted ? .any(.exists) : .none(.exists))
            case "$regex":
                guard case .string(let pattern) = operand else {
                    throw failure(at, "$regex needs a string, not \(describe(operand))")
                }
                let ignoresCase = try parseOptions(members["$options"], at: join(here, "$options"))
                let regex: CompiledRegex
                do {
                    regex = try CompiledRegex(pattern: pattern, ignoresCase: ignoresCase)
                } catch {
                    throw failure(at, "invalid regular expression '\(pattern)': \(error)")
                }
                conditions.append(.any(.regex(regex)))
            case "$options":
                continue  // read with its $regex
            case "$not":
                guard case .object(let inner) = operand, !inner.isEmpty,
                    inner.keys.contains(where: { $0.hasPrefix("$") })
                else {
                    let what =
                        if case .object(let inner) = operand {
                            inner.isEmpty ? "an empty object" : "a literal object"
                        } else {
                            describe(operand)
                        }
                    throw failure(at, "$not needs an object of operators, not \(what)")
                }
                conditions.append(.not(try parseOperators(inner, at: at, depth: depth + 1)))
            default:
                throw failure(at, "unknown operator '\(key)'")
            }
        }
        return conditions
    }

    /// `$options`: only `i` (case-insensitive) is supported.
    private static func parseOptions(_ operand: JSONValue?, at here: String) throws(LabvisorError) -> Bool {
        guard let operand else { return false }
        guard case .string(let options) = operand else {
            throw failure(here, "$options needs a string, not \(describe(operand))")
        }
        var ignoresCase = false
        for option in options {
            guard option == "i" else {
                throw failure(here, "unsupported regex option '\(option)'; only 'i' is supported")
            }
            ignoresCase = true
        }
        return ignoresCase
    }

    // MARK: Helpers

    private static func join(_ parent: String, _ key: String) -> String {
        parent.isEmpty ? key : parent + "." + key
    }

    /// "a string", "an empty array", ... for reasons.
    private static func describe(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool: "a boolean"
        case .int, .double: "a number"
        case .string: "a string"
        case .array(let elements): elements.isEmpty ? "an empty array" : "an array"
        case .object: "an object"
        }
    }

    private static func failure(_ path: String, _ reason: String) -> LabvisorError {
        let shown = path.isEmpty ? rootPath : path
        return LabvisorError(
            .invalidArgument, "invalid requirements query at \(shown): \(reason)",
            fields: ["path": .string(shown), "reason": .string(reason)])
    }
}
