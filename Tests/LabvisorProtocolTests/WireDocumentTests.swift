import Foundation
import LabvisorProtocol
import Testing

/// `docs/wire.md` is generated from the wire types; this keeps the committed file in step.
@Suite("WireDocumentTests")
struct WireDocumentTests {
    static let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/wire.md")

    @Test func committedDocumentIsCurrent() throws {
        let generated = WireDocument.markdown()
        if ProcessInfo.processInfo.environment["LABVISOR_WRITE_DOCS"] == "1" {
            try generated.write(to: Self.file, atomically: true, encoding: .utf8)
        }
        let committed = try String(contentsOf: Self.file, encoding: .utf8)
        #expect(committed == generated, "docs/wire.md is stale: run LABVISOR_WRITE_DOCS=1 swift test --filter WireDocumentTests")
    }

    @Test func everyMethodIsDocumentedOnce() {
        let names = WireMethods.all.map { $0.name }
        #expect(Set(names).count == names.count)
        let document = WireDocument.markdown()
        for name in names { #expect(document.contains("### `\(name)`")) }
    }

    @Test func requestAndResponseRoundTrip() throws {
        let request = RPCRequest(id: .number(7), method: InvokeMethod.name, params: InvokeMethod.exampleParams)
        let data = try JSONEncoder().encode(request)
        let head = try JSONDecoder().decode(RPCRequestHead.self, from: data)
        #expect(head.id == .number(7))
        #expect(head.method == "instrument.invoke")
        let back = try JSONDecoder().decode(RPCRequest<InvokeMethod.Params>.self, from: data)
        #expect(back.params == InvokeMethod.exampleParams)

        let failure = RPCResponse<InvokeMethod.Result>(id: .string("a"), error: .invalidArgument("celsius", "out of range"))
        let failureJSON = try JSONSerialization.jsonObject(with: JSONEncoder().encode(failure)) as? [String: Any]
        #expect(failureJSON?["result"] == nil)
        #expect(failureJSON?["id"] as? String == "a")
        let success = RPCResponse(id: nil, result: InvokeMethod.Result(value: .null))
        let successJSON = try JSONSerialization.jsonObject(with: JSONEncoder().encode(success)) as? [String: Any]
        #expect(successJSON?.keys.contains("id") == true, "a response always has an id member, null when unknown")
        #expect(successJSON?["error"] == nil)
    }

    @Test func lengthPrefixIsBigEndian() {
        #expect(Framing.lengthPrefix(0x0102_0304) == [1, 2, 3, 4])
        #expect(Framing.readLength([0, 0, 1, 0, 99]) == 256)
        #expect(Framing.readLength([0, 0, 1]) == nil)
    }
}
