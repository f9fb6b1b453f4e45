import Foundation
import LabvisorProtocol
import Testing

/// The wire's JSON codec against the JSON grammar, against Foundation's codec on every wire
/// type, and against hostile text.
@Suite struct WireJSONTests {
    @Test func parsesEveryKindOfValue() throws {
        let text = #"""
             {"a": [1, -2, 3.5, -0.25e2, 1E3, 12345678901234567890, 0], "s": "x\"y\\z\/\n\t\u00e9\ud83d\ude00",
              "t": true, "f": false, "n": null, "o": {"deep": {"er": []}}, "e": {}}
            """#
        let value = try JSONParser.parse(Array(text.utf8))
        #expect(value["a"] == [1, -2, 3.5, -25.0, 1000.0, .double(12345678901234567890), 0])
        #expect(value["s"] == .string("x\"y\\z/\n\té😀"))
        #expect(value["t"] == true && value["f"] == false && value["n"] == .null)
        #expect(value["o"]?["deep"]?["er"] == [])
        #expect(value["e"] == .object([:]))
        #expect(try JSONParser.parse(Array("-9223372036854775808".utf8)) == .int(Int.min))
        #expect(try JSONParser.parse(Array(" 42 ".utf8)) == 42)
    }

    @Test(arguments: [
        ("", "unexpected end of the text"),
        ("{\"a\": 1", "expected ',' or '}' in an object"),
        ("{\"a\" 1}", "expected ':' after member name \"a\""),
        ("{a: 1}", "expected a member name in quotes"),
        ("[1, 2", "expected ',' or ']' in an array"),
        ("\"abc", "unterminated string"),
        ("\"a\u{01}b\"", "control character in a string"),
        ("\"\\q\"", "invalid escape '\\q'"),
        ("\"\\ud83d\"", "unpaired surrogate in a \\u escape"),
        ("\"\\u12g4\"", "invalid hex digit in a \\u escape"),
        ("01", "leading zero in a number"),
        ("1.", "invalid number: digits must follow '.'"),
        ("1e", "invalid number: digits must follow the exponent"),
        ("1e999", "number out of range"),
        ("tru", "unexpected end of the text"),
        ("trux", "invalid literal (expected true)"),
        ("{} x", "unexpected text after the JSON value"),
        ("\u{7F}", "unexpected character '\\x7f'"),
    ])
    func refusesMalformedTextSayingWhatAndWhere(text: String, reason: String) {
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(Array(text.utf8)) }
        do {
            _ = try JSONParser.parse(Array(text.utf8))
        } catch {
            #expect(error.reason == reason, "\(text)")
            #expect(error.offset <= text.utf8.count)
        }
    }

    @Test func refusesNestingDeeperThanTheLimitWithoutExhaustingTheStack() throws {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        let error = try #require(throws: JSONParser.Failure.self) { try JSONParser.parse(Array(deep.utf8)) }
        #expect(error.reason == "nesting deeper than \(JSONParser.maximumDepth)")
        let fine = String(repeating: "[", count: JSONParser.maximumDepth) + String(repeating: "]", count: JSONParser.maximumDepth)
        #expect(throws: Never.self) { try JSONParser.parse(Array(fine.utf8)) }
    }

    @Test func writesWhatItParsesForRandomTrees() throws {
        var generator = SplitMix(seed: 0x1ab5)
        for _ in 0..<300 {
            let value = randomValue(&generator, depth: 0)
            let text = JSONWriter.bytes(value)
            #expect(try JSONParser.parse(text).matches(value), "\(String(decoding: text, as: UTF8.self))")
            // Foundation reads what we write.
            #expect(throws: Never.self) { try JSONSerialization.jsonObject(with: Data(text), options: [.fragmentsAllowed]) }
        }
    }

    @Test func escapesStringsAndWritesNonFiniteNumbersAsNull() {
        #expect(String(decoding: JSONWriter.bytes("a\"b\\c\n\u{01}é"), as: UTF8.self) == #""a\"b\\c\n\u0001é""#)
        #expect(JSONWriter.bytes(.double(.nan)) == Array("null".utf8))
        #expect(JSONWriter.bytes(.double(-.infinity)) == Array("null".utf8))
        #expect(JSONWriter.bytes([1, 2.5, "x", nil, false, 33.0, -0.0, 1e20]) == Array(#"[1,2.5,"x",null,false,33,0,1e+20]"#.utf8))
    }

    /// Every wire method's example params and result, both ways between the two codecs.
    @Test func agreesWithFoundationOnEveryWireType() throws {
        for method in WireMethods.all { try agreeOn(method) }
        try agree(
            RPCResponse<Empty>(id: nil, error: LabvisorError(.locked, "stage-x is held", fields: ["holder": "uid 1000 (pid 7)", "since": 1000.5, "waiters": 2])),
            "error response")
        try agree(InvokeMethod.Params(instrument: "stage-x", method: "moveTo", arguments: ["mm": 12.5, "wait": true, "tags": ["a", nil]]), "invoke")
    }

    /// The client's requests written directly (`WireJSON.encodeRequest` around the hot
    /// methods' `tree(ofParams:)`) are what `Codable` writes, optional members set or not.
    @Test func requestsWrittenDirectlyAgreeWithCodable() throws {
        func agree<Method: WireMethod>(_ method: Method.Type, _ params: Method.Params, id: RequestID) throws {
            let tree = try #require(Method.tree(ofParams: params), "\(Method.name) has a tree form")
            let direct = WireJSON.encodeRequest(id: id, method: Method.name, paramsTree: tree)
            let codable = try WireJSON.encode(RPCRequest(id: id, method: Method.name, params: params))
            #expect(try JSONParser.parse(direct) == JSONParser.parse(codable), "\(String(decoding: direct, as: UTF8.self))")
            #expect(try WireJSON.decode(RPCRequest<Method.Params>.self, from: direct).method == Method.name)
        }
        try agree(InvokeMethod.self, .init(instrument: "stage-\"x", method: "moveTo", arguments: ["mm": 12.5, "tags": ["a", nil]]), id: .number(9))
        try agree(InvokeMethod.self, .init(instrument: "l", method: "echo", timeout: 2.5, oneway: true, leaseToken: "6f"), id: .string("a\n"))
        try agree(GetProperty.self, .init(instrument: "heater-1", property: "temperature"), id: .number(1))
        try agree(GetProperty.self, .init(instrument: "heater-1", property: "temperature", timeout: 3), id: .number(2))
        try agree(SetProperty.self, .init(instrument: "heater-1", property: "setpoint", value: ["a": [1, 2.5]]), id: .number(3))
        try agree(SetProperty.self, .init(instrument: "h", property: "p", value: false, timeout: 0.5, leaseToken: "t"), id: .number(4))
        try agree(AcquireLease.self, .init(instruments: ["loopback", "stage-x"]), id: .number(5))
        try agree(AcquireLease.self, .init(where: ["kind": "stage"], count: 2, timeout: 1.5), id: .number(6))
        try agree(ReleaseLease.self, .init(lease: "L17"), id: .number(7))
    }

    /// The event notification written directly reads back through `Codable` as what it was
    /// written from, and the client's layout reader agrees with `Codable` on random events.
    @Test func eventNotificationsWrittenDirectlyAgreeWithCodable() throws {
        var generator = SplitMix(seed: 0xE7E)
        let kinds = Event.Kind.allCases
        for round in 0..<300 {
            var fields: [String: JSONValue] = [:]
            for index in 0..<Int(generator.next() % 4) { fields["f\(index)\u{22}\n"] = randomValue(&generator, depth: 1) }
            let event = Event(
                kind: kinds[Int(generator.next() % UInt64(kinds.count))], instrument: round % 3 == 0 ? nil : "stage-\u{22}\(round)",
                fields: fields, sequence: generator.next() >> 2, time: Date(timeIntervalSince1970: Double(generator.next() % 10_000_000_000) / 1000))
            var framed: [UInt8] = []
            Framing.appendFrame(to: &framed) { EventNotification.write(subscription: round, event: event, into: &$0) }
            #expect(Framing.readLength(framed) == framed.count - Framing.lengthSize)
            let text = Array(framed.dropFirst(Framing.lengthSize))
            let viaCodable = try WireJSON.decode(RPCRequest<EventNotification.Params>.self, from: text)
            let expected = EventNotification.Params(subscription: round, event: WireEvent(event))
            let codableText = try WireJSON.encode(RPCRequest(id: nil, method: EventNotification.name, params: expected))
            #expect(viaCodable.id == nil && viaCodable.method == EventNotification.name)
            #expect(viaCodable.params == (try WireJSON.decode(RPCRequest<EventNotification.Params>.self, from: codableText)).params, "\(String(decoding: text, as: UTF8.self))")
            #expect(try JSONParser.parse(text) == JSONParser.parse(codableText))
            #expect(viaCodable.params.event.sequence == event.sequence && viaCodable.params.event.instrument == event.instrument)
            #expect(text.withUnsafeBytes { EventNotification.params(fromMessage: $0) } == viaCodable.params)
            // The layout reader takes its own layout or nothing: mutated text reads as Codable
            // reads it, or not at all.
            for _ in 0..<20 {
                var mutated = text
                mutated[Int(generator.next() % UInt64(mutated.count))] = [UInt8(ascii: "}"), UInt8(ascii: "\""), UInt8(ascii: "1"), UInt8(ascii: " "), 0x00, UInt8(ascii: ",")][Int(generator.next() % 6)]
                guard let fast = mutated.withUnsafeBytes({ EventNotification.params(fromMessage: $0) }) else { continue }
                let slow = try? WireJSON.decode(RPCRequest<EventNotification.Params>.self, from: mutated)
                #expect(slow?.method == EventNotification.name && slow?.params == fast, "\(String(decoding: mutated, as: UTF8.self))")
            }
        }
        // Another layout of the same message is not read by the layout reader (the tree is).
        let spaced = Array(#"{"jsonrpc": "2.0", "method": "event", "params": {"subscription": 1, "event": {"sequence": 3, "time": 1.5, "kind": "gap", "fields": {}}}}"#.utf8)
        #expect(spaced.withUnsafeBytes { EventNotification.params(fromMessage: $0) } == nil)
        let tight = Array(#"{"jsonrpc":"2.0","method":"event","params":{"subscription":1,"event":{"sequence":3,"time":1.5,"kind":"gap","fields":{"missed":2}}}}"#.utf8)
        #expect(tight.withUnsafeBytes { EventNotification.params(fromMessage: $0) }
            == .init(subscription: 1, event: WireEvent(sequence: 3, time: 1.5, kind: .gap, instrument: nil, fields: ["missed": 2])))
    }

    @Test func decodingErrorsNameTheMember() throws {
        let wrongType = Array(#"{"instrument": 5, "method": "home"}"#.utf8)
        let error = try #require(throws: DecodingError.self) { try WireJSON.decode(InvokeMethod.Params.self, from: wrongType) }
        guard case .typeMismatch(_, let context) = error else {
            Issue.record("expected a type mismatch, got \(error)")
            return
        }
        #expect(context.codingPath.map(\.stringValue) == ["instrument"])
        let missing = try #require(throws: DecodingError.self) {
            try WireJSON.decode(InvokeMethod.Params.self, from: Array(#"{"instrument": "x"}"#.utf8))
        }
        guard case .keyNotFound(let key, _) = missing else {
            Issue.record("expected a missing key, got \(missing)")
            return
        }
        #expect(key.stringValue == "method")
        let fraction = try #require(throws: DecodingError.self) {
            try WireJSON.decode(RPCRequestHead.self, from: Array(#"{"id": 1.5, "method": "x"}"#.utf8))
        }
        #expect(fraction.localizedDescription.isEmpty == false)
        #expect(try WireJSON.decode(RPCRequestHead.self, from: Array(#"{"id": 4.0}"#.utf8)).id == .number(4))
    }

    // MARK: - Helpers

    func agreeOn<Method: WireMethod>(_ method: Method.Type) throws {
        try agree(method.exampleParams, method.name + " params")
        try agree(method.exampleResult, method.name + " result")
        try agree(RPCRequest(id: .number(7), method: method.name, params: method.exampleParams), method.name + " request")
        try agree(RPCResponse(id: .string("x"), result: method.exampleResult), method.name + " response")
        // The direct envelope reads back as the Codable one.
        let direct = try WireJSON.encodeResponse(id: .number(3), result: method.exampleResult)
        let viaCodable = try WireJSON.encode(RPCResponse(id: .number(3), result: method.exampleResult))
        #expect(try JSONParser.parse(direct) == JSONParser.parse(viaCodable), "\(method.name) direct response")
    }

    /// `value` survives WireJSON → Foundation and Foundation → WireJSON unchanged (compared
    /// as Foundation's sorted-key text).
    func agree<T: Codable>(_ value: T, _ label: String) throws {
        let foundation = JSONEncoder()
        foundation.outputFormatting = .sortedKeys
        let expected = String(decoding: try foundation.encode(value), as: UTF8.self)
        let ours = try WireJSON.encode(value)
        let viaFoundation = try JSONDecoder().decode(T.self, from: Data(ours))
        #expect(String(decoding: try foundation.encode(viaFoundation), as: UTF8.self) == expected, "\(label): ours → Foundation")
        let viaOurs = try WireJSON.decode(T.self, from: Array(try foundation.encode(value)))
        #expect(String(decoding: try foundation.encode(viaOurs), as: UTF8.self) == expected, "\(label): Foundation → ours")
    }

    func randomValue(_ generator: inout SplitMix, depth: Int) -> JSONValue {
        let pick = depth > 3 ? generator.next() % 5 : generator.next() % 7
        switch pick {
        case 0: return .null
        case 1: return .bool(generator.next() % 2 == 0)
        case 2: return .int(Int(truncatingIfNeeded: generator.next()) >> Int(generator.next() % 60))
        case 3: return .double(Double(Int64(truncatingIfNeeded: generator.next()) >> 20) / 1024)
        case 4:
            let scalars = (0..<Int(generator.next() % 12)).map { _ in
                Unicode.Scalar([0x22, 0x5C, 0x0A, 0x01, 0x41, 0xE9, 0x1F600, 0x20AC][Int(generator.next() % 8)])!
            }
            return .string(String(String.UnicodeScalarView(scalars)))
        case 5: return .array((0..<Int(generator.next() % 5)).map { _ in randomValue(&generator, depth: depth + 1) })
        default:
            var members: [String: JSONValue] = [:]
            for index in 0..<Int(generator.next() % 5) { members["k\(index)\u{e9}"] = randomValue(&generator, depth: depth + 1) }
            return .object(members)
        }
    }
}

/// A small seeded generator, so a failing tree can be reproduced.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
