import LabvisorProtocol
import Testing

@Suite("EndpointTests")
struct EndpointTests {
    @Test(arguments: [
        ("unix:///run/labvisor/labvisord.sock", Endpoint.unix("/run/labvisor/labvisord.sock")),
        ("/tmp/x.sock", .unix("/tmp/x.sock")),
        ("tcp://127.0.0.1:7420", .tcp(host: "127.0.0.1", port: 7420)),
        ("tls://lab-pc.example.org:7420", .tls(host: "lab-pc.example.org", port: 7420)),
        ("tls://[::1]:7420", .tls(host: "::1", port: 7420)),
    ])
    func urlsParseAndPrintBack(_ url: String, _ endpoint: Endpoint) throws {
        #expect(try Endpoint.parse(url) == endpoint)
        #expect(try Endpoint.parse(endpoint.description) == endpoint)
    }

    @Test(arguments: ["tls://host", "tls://host:0", "tls://:7420", "tcp://host:70000", "http://host:80", "unix://relative"])
    func badURLsNameTheURL(_ url: String) {
        let error = #expect(throws: LabvisorError.self) { try Endpoint.parse(url) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("'\(url)'") == true)
    }

    @Test func theEnvironmentNamesATLSEndpoint() throws {
        #expect(try Endpoint.fromEnvironment(["LABVISOR_URL": "tls://lab-pc:7420"]) == .tls(host: "lab-pc", port: 7420))
    }
}
