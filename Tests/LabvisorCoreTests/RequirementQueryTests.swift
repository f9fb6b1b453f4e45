import Foundation
import LabvisorCore
import Testing

/// A stage like the ones the supervisor keeps, with arrays and nested objects in its tags.
private let stage: JSONValue = [
    "name": "stage-x",
    "kind": "stage",
    "driver": "zaber-ascii",
    "state": "ready",
    "tags": [
        "room": "B12",
        "axis": "x",
        "travel_mm": 25,
        "speed": 2.5,
        "roles": ["imaging", "align"],
        "channels": [10, 20, 30],
        "lenses": [["mag": 10, "na": 0.3], ["mag": 40, "na": 0.75, "oil": true]],
        "note": nil,
    ],
    "identity": ["vendorID": "2939", "serial": "33938", "bus": "usb"],
]

private func query(_ json: JSONValue) throws -> RequirementQuery {
    try RequirementQuery(parsing: json)
}

/// Whether `json`, parsed, matches `document` (the stage unless told).
private func matches(_ json: JSONValue, _ document: JSONValue = stage) throws -> Bool {
    try query(json).matches(document)
}

@Suite struct RequirementQueryEqualityTests {
    @Test func literalEqualityOnTopLevelFields() throws {
        #expect(try matches(["kind": "stage"]))
        #expect(try !matches(["kind": "camera"]))
        #expect(try !matches(["color": "red"]))
        #expect(try matches(["kind": "stage", "state": "ready"]))
        #expect(try !matches(["kind": "stage", "state": "busy"]))
    }

    @Test func dottedPathsIntoTagsAndIdentity() throws {
        #expect(try matches(["tags.room": "B12"]))
        #expect(try !matches(["tags.room": "B13"]))
        #expect(try matches(["identity.serial": "33938"]))
        #expect(try !matches(["identity.serial": 33938]))  // a string is not a number
        #expect(try matches(["identity.bus": "usb", "identity.vendorID": "2939"]))
        #expect(try !matches(["identity.serial.more": "x"]))  // path through a string
        #expect(try !matches(["tags.room.x": nil, "kind": "camera"]))
    }

    @Test func numbersCompareByValueAcrossIntAndDouble() throws {
        #expect(try matches(["tags.travel_mm": 25]))
        #expect(try matches(["tags.travel_mm": 25.0]))
        #expect(try !matches(["tags.travel_mm": 25.5]))
        #expect(try matches(["tags.travel_mm": ["$eq": 25.0]]))
        #expect(try matches(["tags.speed": 2.5]))
        #expect(try !matches(["tags.travel_mm": "25"]))
    }

    @Test func literalObjectsAndBooleansCompareWhole() throws {
        #expect(try matches(["identity": ["vendorID": "2939", "serial": "33938", "bus": "usb"]]))
        #expect(try !matches(["identity": ["vendorID": "2939"]]))
        #expect(try matches(["tags.lenses.oil": true]))
        #expect(try !matches(["tags.lenses.oil": false]))
        #expect(try !matches(["tags.lenses.oil": 1]))
    }

    @Test func nullMatchesMissingOrNull() throws {
        #expect(try matches(["tags.note": nil]))
        #expect(try matches(["tags.missing": nil]))
        #expect(try matches(["nothing.at.all": nil]))
        #expect(try !matches(["kind": nil]))
        #expect(try matches(["kind": ["$ne": nil]]))
        #expect(try !matches(["tags.note": ["$ne": nil]]))
        #expect(try !matches(["tags.missing": ["$ne": nil]]))
    }

    @Test func nonObjectDocumentsMatchOnlyWhatTheyCan() throws {
        #expect(try !matches(["kind": "stage"], "stage"))
        #expect(try matches(["kind": nil], .null))
        #expect(try !matches(["kind": ["$exists": true]], [1, 2]))
    }
}

@Suite struct RequirementQueryOperatorTests {
    @Test func eqAndNe() throws {
        #expect(try matches(["kind": ["$eq": "stage"]]))
        #expect(try !matches(["kind": ["$eq": "camera"]]))
        #expect(try matches(["kind": ["$ne": "camera"]]))
        #expect(try !matches(["kind": ["$ne": "stage"]]))
        #expect(try matches(["color": ["$ne": "red"]]))  // missing field
        #expect(try !matches(["tags.travel_mm": ["$ne": 25.0]]))
    }

    @Test func numericComparisons() throws {
        #expect(try matches(["tags.travel_mm": ["$gt": 20]]))
        #expect(try !matches(["tags.travel_mm": ["$gt": 25]]))
        #expect(try matches(["tags.travel_mm": ["$gte": 25]]))
        #expect(try !matches(["tags.travel_mm": ["$gte": 25.1]]))
        #expect(try matches(["tags.travel_mm": ["$lt": 30.5]]))
        #expect(try !matches(["tags.travel_mm": ["$lt": 25]]))
        #expect(try matches(["tags.travel_mm": ["$lte": 25.0]]))
        #expect(try !matches(["tags.travel_mm": ["$lte": 24]]))
        #expect(try matches(["tags.speed": ["$gt": 2]]))
        #expect(try !matches(["tags.speed": ["$gt": 3]]))
    }

    @Test func stringComparisonsAreLexicographic() throws {
        #expect(try matches(["name": ["$gt": "stage-a"]]))
        #expect(try !matches(["name": ["$lt": "stage-a"]]))
        #expect(try matches(["name": ["$gte": "stage-x"]]))
        #expect(try matches(["name": ["$lte": "stage-x"]]))
        #expect(try !matches(["name": ["$gt": "stage-x"]]))
        #expect(try matches(["tags.room": ["$gte": "B", "$lt": "C"]]))
    }

    @Test func comparisonsOfOtherTypesOrMissingFieldsDoNotMatch() throws {
        #expect(try !matches(["tags.travel_mm": ["$gt": "10"]]))
        #expect(try !matches(["name": ["$gt": 1]]))
        #expect(try !matches(["tags.note": ["$lt": 100]]))
        #expect(try !matches(["tags.missing": ["$lt": 100]]))
        #expect(try !matches(["identity": ["$gte": "a"]]))
    }

    @Test func severalOperatorsInOneObjectAreAnded() throws {
        #expect(try matches(["tags.travel_mm": ["$gte": 20, "$lte": 30]]))
        #expect(try !matches(["tags.travel_mm": ["$gte": 20, "$lt": 25]]))
        #expect(try matches(["kind": ["$in": ["stage", "camera"], "$ne": "camera"]]))
    }

    @Test func inAndNin() throws {
        #expect(try matches(["kind": ["$in": ["camera", "stage"]]]))
        #expect(try !matches(["kind": ["$in": ["camera", "laser"]]]))
        #expect(try !matches(["kind": ["$in": []]]))
        #expect(try matches(["tags.travel_mm": ["$in": [1, 25.0]]]))
        #expect(try matches(["tags.missing": ["$in": ["x", nil]]]))
        #expect(try matches(["kind": ["$nin": ["camera"]]]))
        #expect(try !matches(["kind": ["$nin": ["camera", "stage"]]]))
        #expect(try matches(["tags.missing": ["$nin": ["x"]]]))
        #expect(try !matches(["tags.missing": ["$nin": ["x", nil]]]))
        #expect(try matches(["kind": ["$nin": []]]))
    }

    @Test func inWithManyStringsUsesTheSameSemantics() throws {
        let names: [JSONValue] = (0..<20).map { .string("stage-\($0)") }
        #expect(try !matches(["name": ["$in": .array(names)]]))
        #expect(try matches(["name": ["$in": .array(names + ["stage-x"])]]))
        #expect(try matches(["tags.travel_mm": ["$in": .array(names + [25])]]))
        #expect(try matches(["tags.roles": ["$in": .array(names + ["align"])]]))
        #expect(try !matches(["name": ["$nin": .array(names + ["stage-x"])]]))
    }

    @Test func exists() throws {
        #expect(try matches(["tags.room": ["$exists": true]]))
        #expect(try !matches(["tags.room": ["$exists": false]]))
        #expect(try !matches(["tags.missing": ["$exists": true]]))
        #expect(try matches(["tags.missing": ["$exists": false]]))
        #expect(try matches(["tags.note": ["$exists": true]]))  // present, null
        #expect(try matches(["tags.roles": ["$exists": true]]))
    }

    @Test func regexSearchesAnywhere() throws {
        #expect(try matches(["name": ["$regex": "^stage"]]))
        #expect(try matches(["name": ["$regex": "x$"]]))
        #expect(try matches(["name": ["$regex": "age-"]]))
        #expect(try matches(["driver": ["$regex": "thorlabs|zaber"]]))
        #expect(try matches(["identity.serial": ["$regex": "^[0-9]{5}$"]]))
        #expect(try !matches(["name": ["$regex": "^x"]]))
        #expect(try !matches(["name": ["$regex": "camera"]]))
        #expect(try !matches(["tags.travel_mm": ["$regex": "25"]]))  // not a string
        #expect(try !matches(["tags.missing": ["$regex": ""]]))
        #expect(try matches(["tags.roles": ["$regex": "^ima"]]))  // an element
    }

    @Test func regexCaseSensitivityAndTheIOption() throws {
        #expect(try !matches(["name": ["$regex": "STAGE"]]))
        #expect(try matches(["name": ["$regex": "STAGE", "$options": "i"]]))
        #expect(try !matches(["name": ["$regex": "^X", "$options": ""]]))
        #expect(try matches(["name": ["$regex": "^S.*X$", "$options": "i"]]))
        #expect(try matches(["driver": ["$regex": "Zaber-ASCII", "$options": "i"]]))
        #expect(try !matches(["driver": ["$regex": "Zaber-ASCI!", "$options": "i"]]))
    }

    @Test func anchoredLiteralRegexes() throws {
        #expect(try matches(["name": ["$regex": "^stage-x$"]]))
        #expect(try !matches(["name": ["$regex": "^stage-$"]]))
        #expect(try !matches(["name": ["$regex": "^tage"]]))
        #expect(try !matches(["name": ["$regex": "stage$"]]))
        #expect(try matches(["name": ["$regex": "-X$", "$options": "i"]]))
        #expect(try matches(["name": ["$regex": "^STAGE-X$", "$options": "i"]]))
        #expect(try !matches(["name": ["$regex": "^STAGE-X$"]]))
        #expect(try matches(["name": ["$regex": "^"]]))
        #expect(try matches(["name": ["$regex": ""]]))
        #expect(try !matches(["name": ["$regex": "^stage-x-long$"]]))
    }

    /// Plain literal patterns take a byte-wise fast path; wrapping the same literal in a group
    /// forces the `Regex`. Both must agree on every subject.
    @Test func literalFastPathAgreesWithRegex() throws {
        let subjects: [String] = [
            "stage-x", "STAGE-X", "xstage-x", "stage-x\n", "stage-x\r\n", "a\tstage",
            "", "st", "Größe stage", "cafe\u{301} stage", "ab ab", "a\r\nb", "stage-xstage-x",
        ]
        for body in ["stage", "stage-x", "ab", "e", "-x", "STAGE", ""] {
            for (prefix, suffix) in [("", ""), ("^", ""), ("", "$"), ("^", "$")] {
                for options in ["", "i"] {
                    let fast = try query(["s": ["$regex": .string(prefix + body + suffix), "$options": .string(options)]])
                    let slow = try query(["s": ["$regex": .string(prefix + "(?:" + body + ")" + suffix), "$options": .string(options)]])
                    for subject in subjects {
                        let document: JSONValue = ["s": .string(subject)]
                        #expect(fast.matches(document) == slow.matches(document), "\(fast) on \(subject.debugDescription)")
                    }
                }
            }
        }
    }

    @Test func regexOnNonASCIITextUsesCharacterSemantics() throws {
        let document: JSONValue = ["name": "Mikroskop Größe", "decomposed": "cafe\u{301}"]
        #expect(try !matches(["name": ["$regex": "größe"]], document))
        #expect(try matches(["name": ["$regex": "GRÖßE", "$options": "i"]], document))
        #expect(try matches(["name": ["$regex": "mikroskop", "$options": "i"]], document))
        #expect(try matches(["name": ["$regex": "Größe"]], document))
        // "e" followed by a combining accent is the character "é", not "e".
        #expect(try !matches(["decomposed": ["$regex": "cafe"]], document))
        #expect(try matches(["decomposed": ["$regex": "caf"]], document))
    }

    @Test func notNegatesAnOperatorObject() throws {
        #expect(try matches(["tags.travel_mm": ["$not": ["$lt": 20]]]))
        #expect(try !matches(["tags.travel_mm": ["$not": ["$gt": 20]]]))
        #expect(try matches(["tags.missing": ["$not": ["$lt": 20]]]))  // missing: $lt fails
        #expect(try !matches(["tags.travel_mm": ["$not": ["$gte": 20, "$lte": 30]]]))
        #expect(try matches(["tags.travel_mm": ["$not": ["$gte": 20, "$lte": 24]]]))
        #expect(try matches(["name": ["$not": ["$regex": "^cam"]]]))
        #expect(try !matches(["name": ["$not": ["$not": ["$eq": "camera"]]]]))
    }
}

@Suite struct RequirementQueryArrayTests {
    @Test func elementAndWholeArrayEquality() throws {
        #expect(try matches(["tags.roles": "imaging"]))
        #expect(try matches(["tags.roles": "align"]))
        #expect(try !matches(["tags.roles": "focus"]))
        #expect(try matches(["tags.roles": ["imaging", "align"]]))
        #expect(try !matches(["tags.roles": ["align", "imaging"]]))
        #expect(try matches(["tags.channels": 20.0]))
        #expect(try !matches(["tags.roles": ["$ne": "imaging"]]))
        #expect(try matches(["tags.roles": ["$ne": "focus"]]))
    }

    @Test func inAndComparisonsOnArrayFields() throws {
        #expect(try matches(["tags.roles": ["$in": ["focus", "align"]]]))
        #expect(try !matches(["tags.roles": ["$in": ["focus", "laser"]]]))
        #expect(try !matches(["tags.roles": ["$nin": ["imaging"]]]))
        #expect(try matches(["tags.roles": ["$nin": ["focus"]]]))
        #expect(try matches(["tags.channels": ["$gt": 25]]))
        #expect(try !matches(["tags.channels": ["$gt": 30]]))
        #expect(try matches(["tags.channels": ["$in": [[10, 20, 30]]]]))
    }

    @Test func numericSegmentsIndexArrays() throws {
        #expect(try matches(["tags.channels.0": 10]))
        #expect(try !matches(["tags.channels.1": 10]))
        #expect(try matches(["tags.channels.2": ["$gte": 30]]))
        #expect(try matches(["tags.channels.5": ["$exists": false]]))
        #expect(try matches(["tags.roles.1": "align"]))
        #expect(try matches(["tags.lenses.1.mag": 40]))
        #expect(try !matches(["tags.lenses.0.mag": 40]))
        // On an object, a numeric segment is a member name.
        #expect(try matches(["slots.0": "empty"], ["slots": ["0": "empty"]]))
    }

    @Test func pathsContinueIntoEveryElementOfArraysOfObjects() throws {
        #expect(try matches(["tags.lenses.mag": 40]))
        #expect(try matches(["tags.lenses.mag": 10]))
        #expect(try !matches(["tags.lenses.mag": 20]))
        #expect(try matches(["tags.lenses.na": ["$gt": 0.5]]))
        #expect(try !matches(["tags.lenses.mag": ["$gt": 100]]))
        #expect(try matches(["tags.lenses.mag": ["$in": [20, 40]]]))
        #expect(try !matches(["tags.lenses.mag": ["$nin": [20, 40]]]))
        #expect(try !matches(["tags.lenses.mag": ["$ne": 40]]))
        #expect(try matches(["tags.lenses.mag": ["$ne": 20]]))
        #expect(try matches(["tags.lenses.mag": ["$exists": true]]))
        #expect(try matches(["tags.lenses.oil": ["$exists": true]]))
        #expect(try !matches(["tags.lenses.zoom": ["$exists": true]]))
        #expect(try matches(["tags.lenses.oil": nil]))  // the first lens has none
        #expect(try !matches(["tags.lenses.mag": nil]))
        #expect(try matches(["tags.lenses.mag": ["$not": ["$gt": 100]]]))
    }

    @Test func traversalAtTheTopOfTheDocument() throws {
        let hub: JSONValue = ["ports": [["bus": "usb", "id": 1], ["bus": "serial", "id": 2], "unused"]]
        #expect(try matches(["ports.bus": "serial"], hub))
        #expect(try matches(["ports.bus": ["$regex": "^ser"]], hub))
        #expect(try !matches(["ports.bus": "gpib"], hub))
        #expect(try matches(["ports.id": ["$gte": 2]], hub))
        #expect(try matches(["ports.bus": nil], hub))  // "unused" has no bus
        #expect(try matches(["ports.bus": nil], ["ports": []]))
        #expect(try !matches(["ports.bus": ["$exists": true]], ["ports": []]))
    }
}

@Suite struct RequirementQueryLogicTests {
    @Test func andOrNot() throws {
        #expect(try matches(["$and": [["kind": "stage"], ["tags.room": "B12"]]]))
        #expect(try !matches(["$and": [["kind": "stage"], ["tags.room": "B13"]]]))
        #expect(try matches(["$or": [["kind": "camera"], ["tags.room": "B12"]]]))
        #expect(try !matches(["$or": [["kind": "camera"], ["tags.room": "B13"]]]))
        #expect(try matches(["$not": ["kind": "camera"]]))
        #expect(try !matches(["$not": ["kind": "stage"]]))
        #expect(try !matches(["$not": [:]]))
    }

    @Test func nestedLogic() throws {
        let free: JSONValue = [
            "$and": [
                ["kind": "stage"],
                ["$or": [["tags.room": "B13"], ["$and": [["tags.room": "B12"], ["tags.travel_mm": ["$gte": 20]]]]]],
                ["$not": ["state": ["$in": ["busy", "faulted"]]]],
            ]
        ]
        #expect(try matches(free))
        var busy = stage.object!
        busy["state"] = "busy"
        #expect(try !matches(free, .object(busy)))
        var short = stage.object!
        short["tags"] = ["room": "B12", "travel_mm": 10]
        #expect(try !matches(free, .object(short)))
        short["tags"] = ["room": "B13", "travel_mm": 10]
        #expect(try matches(free, .object(short)))
    }

    @Test func logicalOperatorsMixWithFieldsAtTheSameLevel() throws {
        #expect(try matches(["kind": "stage", "$or": [["tags.axis": "y"], ["tags.axis": "x"]]]))
        #expect(try !matches(["kind": "camera", "$or": [["tags.axis": "y"], ["tags.axis": "x"]]]))
        #expect(try !matches(["kind": "stage", "$not": ["tags.axis": "x"]]))
    }

    @Test func allMatchesEverything() throws {
        for document: JSONValue in [stage, [:], .null, "text", [1, 2], ["kind": "camera"]] {
            #expect(RequirementQuery.all.matches(document))
        }
        #expect(RequirementQuery.all.json == [:])
        #expect(RequirementQuery.all.description == "{}")
        #expect(try query([:]) == RequirementQuery.all)
        #expect(try query([:]).matches(stage))
    }
}

@Suite struct RequirementQueryIdentityTests {
    @Test func descriptionRoundTripsTheJSON() throws {
        let json: JSONValue = [
            "kind": "stage", "tags.travel_mm": ["$gte": 20.5], "$or": [["tags.room": "B12"], ["name": ["$regex": "^s\"", "$options": "i"]]],
        ]
        let parsed = try query(json)
        #expect(parsed.json == json)
        #expect(parsed.description == json.description)
        #expect(parsed.description == #"{"$or":[{"tags.room":"B12"},{"name":{"$options":"i","$regex":"^s\""}}],"kind":"stage","tags.travel_mm":{"$gte":20.5}}"#)
        let decoded = try JSONDecoder().decode(JSONValue.self, from: Data(parsed.description.utf8))
        #expect(decoded == json)
        #expect(try query(decoded) == parsed)
        #expect(Set([parsed, try query(decoded), RequirementQuery.all]).count == 2)
    }

    @Test func queriesAreSendableAcrossTasks() async throws {
        let shared = try query(["name": ["$regex": "st.ge", "$options": "i"], "tags.travel_mm": ["$gte": 20]])
        let counts = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<4 {
                group.addTask { (0..<200).reduce(0) { count, _ in count + (shared.matches(stage) ? 1 : 0) } }
            }
            return await group.reduce(0, +)
        }
        #expect(counts == 800)
    }
}

@Suite struct RequirementQueryErrorTests {
    struct Malformed: Sendable, CustomTestStringConvertible {
        let json: JSONValue
        let path: String
        let reason: String
        var testDescription: String { "\(json) -> \(path)" }
    }

    static let cases: [Malformed] = [
        .init(json: "stage", path: "(root)", reason: "query must be an object, not a string"),
        .init(json: [1], path: "(root)", reason: "query must be an object, not an array"),
        .init(
            json: ["$and": [["kind": "stage"], ["tags.travel_mm": ["$gt": [20]]]]],
            path: "$and[1].tags.travel_mm.$gt", reason: "operand must be a number or a string, not an array"),
        .init(json: ["kind": ["$regex": "("]], path: "kind.$regex", reason: "invalid regular expression '('"),
        .init(json: ["kind": ["$foo": 1]], path: "kind.$foo", reason: "unknown operator '$foo'"),
        .init(json: ["$foo": [["kind": "stage"]]], path: "$foo", reason: "unknown operator '$foo'"),
        .init(json: ["$nor": [["kind": "stage"]]], path: "$nor", reason: "unknown operator '$nor'"),
        .init(json: ["kind": ["$and": [["a": 1]]]], path: "kind.$and", reason: "unknown operator '$and'"),
        .init(json: ["kind": ["$in": "stage"]], path: "kind.$in", reason: "$in needs an array, not a string"),
        .init(json: ["kind": ["$nin": 3]], path: "kind.$nin", reason: "$nin needs an array, not a number"),
        .init(json: ["$or": []], path: "$or", reason: "$or needs a non-empty array of queries, not an empty array"),
        .init(json: ["$and": "x"], path: "$and", reason: "$and needs a non-empty array of queries, not a string"),
        .init(json: ["$or": [["kind": "stage"], 3]], path: "$or[1]", reason: "query must be an object, not a number"),
        .init(json: ["kind": ["$eq": "stage", "name": "x"]], path: "kind", reason: "mixed operator and field keys in one object"),
        .init(json: ["tags.room": ["$exists": "yes"]], path: "tags.room.$exists", reason: "$exists needs a boolean, not a string"),
        .init(json: ["kind": ["$regex": 5]], path: "kind.$regex", reason: "$regex needs a string, not a number"),
        .init(json: ["kind": ["$options": "i"]], path: "kind.$options", reason: "$options needs a sibling $regex"),
        .init(json: ["kind": ["$regex": "st", "$options": "x"]], path: "kind.$options", reason: "unsupported regex option 'x'"),
        .init(json: ["kind": ["$regex": "st", "$options": true]], path: "kind.$options", reason: "$options needs a string, not a boolean"),
        .init(json: ["kind": ["$not": "stage"]], path: "kind.$not", reason: "$not needs an object of operators, not a string"),
        .init(json: ["kind": ["$not": ["a": 1]]], path: "kind.$not", reason: "$not needs an object of operators, not a literal object"),
        .init(json: ["kind": ["$not": [:]]], path: "kind.$not", reason: "not an empty object"),
        .init(json: ["$not": [1]], path: "$not", reason: "$not needs a query object, not an array"),
        .init(json: ["$not": ["kind": ["$gt": nil]]], path: "$not.kind.$gt", reason: "operand must be a number or a string, not null"),
        .init(json: ["kind": ["$not": ["$regex": "["]]], path: "kind.$not.$regex", reason: "invalid regular expression '['"),
        .init(json: ["tags..room": "B12"], path: "tags..room", reason: "field path 'tags..room' has an empty segment"),
        .init(json: ["tags.": "B12"], path: "tags.", reason: "has an empty segment"),
        .init(json: ["": 1], path: "(root)", reason: "empty field path"),
        .init(json: ["$or": [["kind": "stage"], ["": 1]]], path: "$or[1]", reason: "empty field path"),
        .init(json: ["tags.$room": 1], path: "tags.$room", reason: "field path segment '$room' must not start with '$'"),
    ]

    @Test(arguments: cases) func malformedQueriesNameThePathAndReason(_ malformed: Malformed) throws {
        let error = try #require(throws: LabvisorError.self) { try RequirementQuery(parsing: malformed.json) }
        #expect(error.code == .invalidArgument)
        #expect(error.fields["path"] == .string(malformed.path))
        let reason = try #require(error.fields["reason"]?.string)
        #expect(reason.contains(malformed.reason))
        #expect(error.message == "invalid requirements query at \(malformed.path): \(reason)")
    }

    @Test func theMessageIsASentenceNamingPathAndReason() throws {
        let error = try #require(throws: LabvisorError.self) {
            try RequirementQuery(parsing: ["$and": [["kind": "stage"], ["tags.travel_mm": ["$gt": [20]]]]])
        }
        #expect(error.message == "invalid requirements query at $and[1].tags.travel_mm.$gt: operand must be a number or a string, not an array")
    }

    @Test func tooDeepNestingIsAnError() throws {
        var json: JSONValue = ["kind": "stage"]
        for _ in 0..<100 { json = ["$not": json] }
        let error = try #require(throws: LabvisorError.self) { try RequirementQuery(parsing: json) }
        #expect(error.fields["reason"]?.string?.contains("nests deeper") == true)
        var fine: JSONValue = ["kind": "stage"]
        for _ in 0..<10 { fine = ["$not": ["$not": fine]] }
        #expect(try RequirementQuery(parsing: fine).matches(stage))
    }
}

@Suite struct RequirementQueryBulkTests {
    static let kinds = ["stage", "camera", "sensor", "laser"]
    static let rooms = ["B12", "B13", "C01"]

    /// Instrument `index` of a synthetic fleet: the parameters are derived from the index so the
    /// expected count can be computed without the query engine.
    static func document(_ index: Int) -> JSONValue {
        let travel: JSONValue = index % 2 == 0 ? .int(index % 50) : .double(Double(index % 50) + 0.5)
        var tags: [String: JSONValue] = ["room": .string(rooms[index % 3]), "travel_mm": travel]
        if index % 7 == 0 { tags["roles"] = ["imaging", "align"] }
        return [
            "name": .string("\(kinds[index % 4])-\(index)"),
            "kind": .string(kinds[index % 4]),
            "state": index % 5 == 0 ? "busy" : "ready",
            "tags": .object(tags),
            "identity": ["serial": .string(String(10_000 + index)), "bus": index % 11 == 0 ? "serial" : "usb"],
        ]
    }

    @Test func tenThousandInstrumentsGiveTheExpectedCount() throws {
        let fleet = (0..<10_000).map(Self.document)
        let freeStages = try RequirementQuery(parsing: [
            "kind": "stage", "tags.room": "B12", "tags.travel_mm": ["$gte": 20], "state": ["$ne": "busy"],
        ])
        let expectedFree = (0..<10_000).filter { index in
            let travel = index % 2 == 0 ? Double(index % 50) : Double(index % 50) + 0.5
            return index % 4 == 0 && index % 3 == 0 && travel >= 20 && index % 5 != 0
        }.count
        #expect(expectedFree > 0)
        #expect(fleet.count { freeStages.matches($0) } == expectedFree)

        let mixed = try RequirementQuery(parsing: [
            "$or": [
                ["tags.roles": "imaging", "identity.bus": "usb"],
                ["name": ["$regex": "^LASER-1", "$options": "i"], "kind": ["$in": ["laser"]]],
            ]
        ])
        let expectedMixed = (0..<10_000).filter { index in
            (index % 7 == 0 && index % 11 != 0) || (index % 4 == 3 && "laser-\(index)".hasPrefix("laser-1"))
        }.count
        #expect(fleet.count { mixed.matches($0) } == expectedMixed)
    }
}
