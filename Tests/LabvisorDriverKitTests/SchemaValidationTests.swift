import LabvisorDriverKit
import Testing

@Suite("SchemaValidationTests")
struct SchemaValidationTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let schema: ValueSchema
        let value: JSONValue
        let expected: JSONValue?  // nil: rejected
        var testDescription: String { "\(schema.summary) <- \(value)" }
    }

    static let cases: [Case] = [
        Case(schema: ValueSchema(kind: .double), value: 3, expected: .double(3)),
        Case(schema: ValueSchema(kind: .double), value: 2.5, expected: 2.5),
        Case(schema: ValueSchema(kind: .double), value: "2.5", expected: nil),
        Case(schema: ValueSchema(kind: .double, minimum: 0, maximum: 50), value: 50, expected: .double(50)),
        Case(schema: ValueSchema(kind: .double, minimum: 0, maximum: 50), value: 50.01, expected: nil),
        Case(schema: ValueSchema(kind: .double, minimum: 0, maximum: 50), value: -1, expected: nil),
        Case(schema: ValueSchema(kind: .int), value: 4, expected: 4),
        Case(schema: ValueSchema(kind: .int), value: 4.0, expected: 4),
        Case(schema: ValueSchema(kind: .int), value: 4.5, expected: nil),
        Case(schema: ValueSchema(kind: .bool), value: true, expected: true),
        Case(schema: ValueSchema(kind: .bool), value: 1, expected: nil),
        Case(schema: ValueSchema(kind: .string, choices: ["a", "b"]), value: "b", expected: "b"),
        Case(schema: ValueSchema(kind: .string, choices: ["a", "b"]), value: "c", expected: nil),
        Case(schema: ValueSchema(kind: .object), value: ["x": 1], expected: ["x": 1]),
        Case(schema: ValueSchema(kind: .any), value: [1, "x"], expected: [1, "x"]),
    ]

    @Test(arguments: cases)
    func validates(_ testCase: Case) {
        do {
            let checked = try testCase.schema.validate(testCase.value, as: "speed")
            #expect(checked == testCase.expected)
        } catch {
            #expect(testCase.expected == nil, "rejected: \(error)")
            #expect(error.code == .invalidArgument)
            #expect(error.fields["argument"] == "speed")
            #expect(error.message.contains("speed"))
        }
    }

    static let move = MethodSchema(
        name: "move", summary: "moves",
        arguments: [
            ArgumentSchema(name: "position", summary: "where", value: ValueSchema(kind: .double, unit: "mm", minimum: 0, maximum: 10)),
            ArgumentSchema(name: "speed", summary: "how fast", value: ValueSchema(kind: .double), defaultValue: 1.5),
        ])

    @Test func fillsDefaultsAndCanonicalises() throws {
        #expect(try Self.move.validate(arguments: ["position": 3]) == ["position": .double(3), "speed": 1.5])
    }

    @Test func missingArgumentIsNamed() {
        let error = #expect(throws: LabvisorError.self) { try Self.move.validate(arguments: ["speed": 2]) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.fields["argument"] == "position")
        #expect(error?.fields["missing"] == true)
    }

    @Test func unknownArgumentIsNamedWithTheKnownOnes() {
        let error = #expect(throws: LabvisorError.self) { try Self.move.validate(arguments: ["position": 1, "sped": 2]) }
        #expect(error?.fields["argument"] == "sped")
        #expect(error?.message.contains("position, speed") == true)
    }

    @Test func outOfRangeSaysTheRangeAndUnit() {
        let error = #expect(throws: LabvisorError.self) { try Self.move.validate(arguments: ["position": 11]) }
        #expect(error?.fields["argument"] == "position")
        #expect(error?.message.contains("0...10 mm") == true)
        #expect(error?.fields["maximum"] == 10.0)
    }

    @Test func interfaceLookupErrorsListWhatExists() {
        let interface = InstrumentInterface(
            driver: "x", methods: [Self.move],
            properties: [PropertySchema(name: "position", summary: "where", value: ValueSchema(kind: .double))])
        let method = #expect(throws: LabvisorError.self) { try interface.method("jump") }
        #expect(method?.code == .unknownMethod)
        #expect(method?.message.contains("move") == true)
        let property = #expect(throws: LabvisorError.self) { try interface.property("speed") }
        #expect(property?.code == .notFound)
        #expect(property?.message.contains("position") == true)
    }
}
