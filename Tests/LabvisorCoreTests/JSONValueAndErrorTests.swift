import Foundation
import LabvisorCore
import Testing

@Suite struct JSONValueTests {
    @Test func numbersMatchAcrossKinds() {
        #expect(JSONValue.int(3).matches(.double(3.0)))
        #expect(!JSONValue.int(3).matches(.string("3")))
        #expect(JSONValue.array([1, 2.0]).matches([1.0, 2]))
        #expect(JSONValue.object(["a": 1]).matches(["a": 1.0]))
        #expect(!JSONValue.object(["a": 1]).matches(["a": 1, "b": 2]))
    }

    @Test func codableRoundTripKeepsIntegersIntegers() throws {
        let value: JSONValue = ["n": 3, "x": 2.5, "s": "hi", "a": [true, nil], "o": ["k": "v"]]
        let data = try JSONEncoder().encode(value)
        let back = try JSONDecoder().decode(JSONValue.self, from: data)
        #expect(back == value)
        #expect(back["n"] == .int(3))
    }

    @Test func descriptionIsCompactSortedJSON() {
        let value: JSONValue = ["b": [1, "x\"y"], "a": nil, "c": "\u{01}"]
        #expect(value.description == #"{"a":null,"b":[1,"x\"y"],"c":"\u0001"}"#)
    }
}

@Suite struct LabvisorErrorTests {
    @Test func codesAreTheStableSetOfTheDesign() {
        let expected = [
            "notFound", "locked", "leaseRequired", "leaseRevoked", "invalidArgument", "unknownMethod",
            "deadlineExceeded", "timeout", "deviceGone", "driverFault", "closed", "resourceExhausted",
            "permissionDenied", "unauthenticated", "unavailable",
        ]
        #expect(ErrorCode.allCases.map(\.rawValue) == expected)
    }

    @Test func descriptionsNameCodeAndReason() {
        let error = LabvisorError.invalidArgument("position", "42 mm is beyond the travel of 25 mm")
        #expect(error.description == "invalidArgument: invalid argument 'position': 42 mm is beyond the travel of 25 mm")
        #expect(error.fields["argument"] == "position")
        let limit = LabvisorError.resourceExhausted("observer seats of stage-x", value: 4)
        #expect(limit.code == .resourceExhausted)
        #expect(limit.fields["value"] == 4)
    }
}
