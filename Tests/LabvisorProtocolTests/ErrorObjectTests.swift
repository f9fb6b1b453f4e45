import Foundation
import LabvisorProtocol
import Testing

@Suite struct ErrorObjectTests {
    @Test func roundTripsEveryCodeThroughJSON() throws {
        for code in ErrorCode.allCases {
            let error = LabvisorError(code, "sentence for \(code)", fields: ["n": 3, "who": "uid 1000"])
            let data = try JSONEncoder().encode(ErrorObject(error))
            let back = try JSONDecoder().decode(ErrorObject.self, from: data)
            #expect(back.labvisorError == error)
            #expect((-32099 ... -32000).contains(back.code))
        }
    }

    @Test func jsonRPCNumbersAreDistinctAndStable() {
        let numbers = ErrorCode.allCases.map(ErrorObject.jsonRPCCode(for:))
        #expect(Set(numbers).count == ErrorCode.allCases.count)
        #expect(ErrorObject.jsonRPCCode(for: .notFound) == -32000)
        #expect(ErrorObject.jsonRPCCode(for: .locked) == -32001)
        #expect(ErrorObject.jsonRPCCode(for: .unavailable) == -32014)
    }

    @Test func wireShapeIsDocumented() throws {
        let object = ErrorObject(.invalidArgument("speed", "must be <= 10 mm/s"))
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(object)) as? [String: Any]
        let data = json?["data"] as? [String: Any]
        #expect(data?["labvisorCode"] as? String == "invalidArgument")
        #expect((data?["fields"] as? [String: Any])?["argument"] as? String == "speed")
    }
}
