import Foundation
import LabvisorDriverTesting
import LabvisorHardware
import LabvisorProtocol
import LabvisorReferenceDrivers
import LabvisorServer
import Testing

/// Hostile input for every parser that reads what an operator or a client wrote: the daemon
/// config, the driver manifests, the wire's JSON and envelope, requirement queries and method
/// arguments. Each is fuzzed from its real examples (`MutationFuzzer`, fixed seeds and
/// iteration counts): it must answer every input with a value or a `LabvisorError`, never a
/// crash, a hang or another kind of error. Each loop runs on a thread of its own
/// (`DedicatedThread`): seconds of CPU-bound work on the 2-thread task pool starved the
/// suite's timing tests.
@Suite(.timeLimit(.minutes(3)))
struct HostileInputFuzzTests {
    /// A check inside a fuzz target that failed. Not a `LabvisorError`: the fuzzer takes
    /// those as the clear answer hostile input should get, so a check that threw one could
    /// never fail.
    struct Disagreement: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let iterations = 20_000
    /// TOML parsing is ~1,000x slower than the rest (toml++ through TOMLKit): fewer rounds.
    static let tomlIterations = 1_000

    static func text(_ path: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
    }

    @Test func configurationParser() async throws {
        let texts = [try Self.text("config/demo.toml"), try Self.text("config/labvisord.toml")]
        let ran = try await DedicatedThread.run(.background) { () throws -> Int in
            var fuzzer = MutationFuzzer(
                seed: 0xC0F1,
                texts: texts,
                tokens: ["[daemon]", "[[instrument]]", " = ", "\"", "'''", "{", "}", "[", "]", "name", "driver", "pin", "serial", "simulate",
                    "tags", "linger", "seats", "1e400", "-0", "\n", "#"])
            // Found by this test: toml++ (inside TOMLKit) aborted on a table header not starting with a key.
            let regressions = ["[\u{FFFD}instrument]]\n", "[[ = instrument]]\n", "[ .a]\n", "[daemon]\né = 1\n", "[[instrument]]\nname = \"x\"\n\u{E4}driver = \"y\"\n"]
                .map { Array($0.utf8) }
            return try fuzzer.run(iterations: Self.tomlIterations, regressions: regressions) { bytes in
                _ = try DaemonConfiguration.parse(String(decoding: bytes, as: UTF8.self), file: "fuzz.toml")
            }
        }
        #expect(ran > Self.tomlIterations)
    }

    @Test func configurationErrorsNameFileLineAndKey() throws {
        // What the fuzzer's errors look like: a sample, so a regression to a bare message shows.
        let error = try #require(throws: LabvisorError.self) {
            _ = try DaemonConfiguration.parse("[daemon]\nlinger = \"long\"\n", file: "lab.toml")
        }
        #expect(error.message.contains("lab.toml") && error.fields["line"] != nil && error.fields["key"] != nil, "\(error)")
    }

    @Test func driverManifestParser() async throws {
        let manifests = try ["zaber-ascii", "thorlabs-apt", "coherent-obis", "uvc-camera", "example-heater"].map {
            try Self.text("drivers/\($0)/driver.toml")
        }
        try await DedicatedThread.run(.background) {
            var fuzzer = MutationFuzzer(
                seed: 0x3A41, texts: manifests,
                tokens: ["[[match]]", "[serial]", "[safe_state]", "vendor_id", "product_id", "0x", "baud", "=", "\"", "[", "]", "\n"])
            try fuzzer.run(iterations: Self.tomlIterations) { bytes in
                _ = try DriverManifestParser.parse(String(decoding: bytes, as: UTF8.self), file: "fuzz/driver.toml")
            }
        }
    }

    @Test func wireJSONParser() async throws {
        try await DedicatedThread.run(.background) {
            var fuzzer = MutationFuzzer(
                seed: 0x150, texts: WireMethods.all.map { Self.exampleRequest($0) },
                tokens: ["\\u", "\\ud83d", "\\\"", "[", "]", "{", "}", ":", ",", "1e999", "-", "0.", "null", "true", "\u{FFFF}"])
            try fuzzer.run(iterations: Self.iterations) { bytes in
                do {
                    let value = try JSONParser.parse(bytes)
                    // What parses, writes and parses back to the same value.
                    guard try JSONParser.parse(JSONWriter.bytes(value)).matches(value) else {
                        throw Disagreement("written JSON reads back differently")
                    }
                } catch is JSONParser.Failure {
                    // Refused with offset and reason: fine.
                }
            }
        }
    }

    /// The dispatcher answers any message with a JSON-RPC response (or nothing, for a
    /// notification), never by crashing; calls that would run a driver are not run here.
    @Test func requestEnvelopes() async throws {
        try await DedicatedThread.run(.background) {
            let supervisor = Supervisor()
            let session = supervisor.connect(ClientRef(id: 1, name: "fuzz"))
            let dispatcher = RPCDispatcher(supervisor: supervisor, clientCount: { 1 }, maxClients: 8, demo: false)
            var fuzzer = MutationFuzzer(
                seed: 0xE4E1, texts: WireMethods.all.map { Self.exampleRequest($0) },
                tokens: ["\"id\"", "\"method\"", "\"params\"", "null", "{}", "[]", "1.5", "\"jsonrpc\":\"2.0\""])
            try fuzzer.run(iterations: Self.iterations) { bytes in
                guard case .now(let response?) = dispatcher.handle(bytes, from: session) else { return }
                guard case .object(let members) = try JSONParser.parse(response), members["result"] != nil || members["error"] != nil else {
                    throw Disagreement("not a JSON-RPC response: \(String(decoding: response, as: UTF8.self))")
                }
            }
            supervisor.disconnect(session)
        }
    }

    /// The hot methods' tree forms agree with `Codable` on every input, on both sides of the
    /// wire. The daemon's: params read past `Codable` (`WireMethod.params(fromTree:)`) are the
    /// same value when both read it, and no value where `Codable` refuses (so errors keep
    /// `Codable`'s message); results' trees are `Codable`'s. The client's: params written
    /// past `Codable` (`tree(ofParams:)`) are `Codable`'s tree, and results read past it
    /// (`result(fromTree:)`) agree as params do.
    @Test func hotMethodTreeForms() async throws {
        @Sendable func agree<Method: WireMethod>(_ method: Method.Type, _ tree: JSONValue) throws
        where Method.Params: Equatable, Method.Result: Equatable {
            let fast = Method.params(fromTree: tree)
            let slow = try? JSONValueDecoder().decode(Method.Params.self, from: tree)
            if let fast, fast != slow {
                throw Disagreement("\(Method.name): the tree form read \(tree) as \(fast), Codable as \(String(describing: slow))")
            }
            if let slow, let written = Method.tree(ofParams: slow), written != (try JSONValueEncoder().encode(slow)) {
                throw Disagreement("\(Method.name): params \(slow) written as \(written), Codable writes \(try JSONValueEncoder().encode(slow))")
            }
            let fastResult = Method.result(fromTree: tree)
            let slowResult = try? JSONValueDecoder().decode(Method.Result.self, from: tree)
            if let fastResult, fastResult != slowResult {
                throw Disagreement("\(Method.name): the result \(tree) read as \(fastResult), Codable as \(String(describing: slowResult))")
            }
        }
        let results: [(JSONValue?, JSONValue)] = [
            (InvokeMethod.tree(of: .init(value: ["x": 1.5, "ok": true])), try JSONValueEncoder().encode(InvokeMethod.Result(value: ["x": 1.5, "ok": true]))),
            (InvokeMethod.tree(of: .init(value: .null)), try JSONValueEncoder().encode(InvokeMethod.Result(value: .null))),
            (InvokeMethod.tree(of: .init(call: 7)), try JSONValueEncoder().encode(InvokeMethod.Result(call: 7))),
            (GetProperty.tree(of: .init(value: "on")), try JSONValueEncoder().encode(GetProperty.Result(value: "on"))),
            (SetProperty.tree(of: Empty()), try JSONValueEncoder().encode(Empty())),
            (AcquireLease.tree(of: AcquireLease.exampleResult), try JSONValueEncoder().encode(AcquireLease.exampleResult)),
            (ReleaseLease.tree(of: Empty()), try JSONValueEncoder().encode(Empty())),
        ]
        for (fast, slow) in results { #expect(fast == slow) }
        try await DedicatedThread.run(.background) {
            var fuzzer = MutationFuzzer(
                seed: 0x7EE,
                texts: [
                    #"{"instrument":"stage-x","method":"moveTo","arguments":{"mm":12.5},"timeout":30,"oneway":false,"leaseToken":"6f1c"}"#,
                    #"{"instrument":"loopback","method":"echo","arguments":{"value":1}}"#,
                    #"{"instrument":"heater-1","property":"setpoint","value":40,"timeout":null,"leaseToken":null}"#,
                    #"{"instrument":"heater-1","property":"temperature","timeout":2.5}"#,
                    #"{"value":{"x":1.5,"ok":true},"call":null}"#,
                    #"{"call":7}"#,
                    #"{"value":null}"#,
                    #"{"instruments":["loopback","stage-x"],"timeout":0}"#,
                    #"{"where":{"kind":"stage"},"count":2,"instruments":null}"#,
                    #"{"lease":"L17","token":"k3J9","instruments":["stage-x"],"since":1790000000.5}"#,
                ],
                tokens: [
                    "null", "true", "1", "1.5", "\"\"", "{}", "[]", "\"timeout\"", "\"oneway\"", "\"arguments\"", "\"value\"", "\"leaseToken\"",
                    "\"call\"", "\"instruments\"", "\"where\"", "\"count\"", "\"lease\"", "\"since\"", "[\"a\"]",
                ])
            try fuzzer.run(iterations: Self.iterations) { bytes in
                guard let tree = try? JSONParser.parse(bytes) else { return }
                try agree(InvokeMethod.self, tree)
                try agree(GetProperty.self, tree)
                try agree(SetProperty.self, tree)
                try agree(AcquireLease.self, tree)
                try agree(ReleaseLease.self, tree)
            }
        }
    }

    @Test func requirementQueries() async throws {
        try await DedicatedThread.run(.background) {
            var fuzzer = MutationFuzzer(
                seed: 0x9E5,
                texts: [
                    #"{"kind": "stage", "tags.axis": {"$in": ["x", "y"]}}"#,
                    #"{"$or": [{"kind": "camera"}, {"tags.room": {"$regex": "^lab-[0-9]+$"}}], "state": {"$ne": "gone"}}"#,
                    #"{"tags.wavelength_nm": {"$gte": 400, "$lt": 500}, "name": {"$exists": true}}"#,
                    #"{"$and": [{"$not": {"kind": "laser"}}, {"driver": {"$regex": "ZABER", "$options": "i"}}]}"#,
                ],
                tokens: ["$and", "$or", "$not", "$in", "$nin", "$regex", "$options", "$gt", "$exists", "(", ")", "*", "+", "?", "[", "\\"])
            let document: JSONValue = ["name": "stage-x", "kind": "stage", "state": "ready", "tags": ["axis": "x", "room": "lab-1"]]
            try fuzzer.run(iterations: Self.iterations) { bytes in
                guard let json = try? JSONParser.parse(bytes) else { return }
                _ = try RequirementQuery(parsing: json).matches(document)
            }
        }
    }

    /// Every reference driver's methods, with arguments mutated from valid ones.
    @Test func methodArguments() async throws {
        try await DedicatedThread.run(.background) {
            let methods = ReferenceDrivers.drivers.entries.values.flatMap(\.interface.methods)
            var fuzzer = MutationFuzzer(
                seed: 0xA5, texts: [#"{"mm": 12.5, "wait": true}"#, #"{"milliwatts": 20}"#, #"{"celsius": 40, "rate": 1.5}"#, #"{"format": "GREY", "width": 640, "height": 480, "fps": 30}"#],
                tokens: ["1e308", "-1e308", "null", "\"\"", "[]", "{}", "NaN", "0.0000001", "9223372036854775807"])
            var index = 0
            try fuzzer.run(iterations: Self.iterations) { bytes in
                guard case .object(let arguments)? = try? JSONParser.parse(bytes) else { return }
                index += 1
                _ = try methods[index % methods.count].validate(arguments: arguments)
            }
        }
    }

    static func exampleRequest(_ method: any WireMethod.Type) -> String {
        func text<M: WireMethod>(_ method: M.Type) -> String {
            let bytes = (try? WireJSON.encode(RPCRequest(id: .number(1), method: M.name, params: M.exampleParams))) ?? []
            return String(decoding: bytes, as: UTF8.self)
        }
        return text(method)
    }
}
