import Foundation
import LabvisorClient
import Testing

/// `GET /healthz` and `GET /metrics` from the real daemon, over a plain socket.
@Suite("MonitoringHTTPTests", .timeLimit(.minutes(2)))
struct MonitoringHTTPTests {
    let heater = "heater-1"

    /// Starts the daemon with `--http 127.0.0.1:0` and returns it with the port it logged
    /// (READY=1 waits for the HTTP listener, so the line is there by then).
    static func daemon() async throws -> (DaemonProcess, Int, NotifySocketListener) {
        let systemd = try NotifySocketListener(abstract: true)
        let daemon = try await DaemonProcess(
            environment: ["NOTIFY_SOCKET": systemd.name], arguments: ["--http", "127.0.0.1:0"], waitForSocket: false)
        _ = try await systemd.receive(until: "READY=1", within: .seconds(30))
        let log = daemon.logText
        let marker = "/healthz and /metrics on http://127.0.0.1:"
        let line = try #require(log.components(separatedBy: "\n").first { $0.contains(marker) }, "the port is logged: \(log)")
        let port = try #require(Int(line.components(separatedBy: marker)[1].prefix { $0.isNumber }))
        return (daemon, port, systemd)
    }

    @Test func healthzAnswersWhenTheSupervisorDoes() async throws {
        let (daemon, port, _) = try await Self.daemon()
        let response = try await RawHTTP.get(port: port, path: "/healthz")
        #expect(response.status == 200, "\(response)")
        #expect(response.header("Content-Type") == "application/json")
        let health = try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any]
        #expect(health?["status"] as? String == "ok", "\(response.body)")
        #expect((health?["instruments"] as? Int ?? 0) >= 4, "\(response.body)")
        #expect(health?["clients"] as? Int == 0)
        let missing = try await RawHTTP.get(port: port, path: "/nothing-here")
        #expect(missing.status == 404)
        #expect(try await daemon.stop() == 0, "\(daemon.logText)")
    }

    @Test func metricsCountCallsByOutcomeAndState() async throws {
        let (daemon, port, _) = try await Self.daemon()
        let client = try await daemon.connect()
        _ = try await client.get(heater, "setpoint")
        _ = try await client.get(heater, "setpoint")
        let refused = await #expect(throws: LabvisorError.self) { try await client.invoke(heater, "heatOn") }
        #expect(refused?.code == .leaseRequired)
        let lease = try await client.acquire([heater])

        let response = try await RawHTTP.get(port: port, path: "/metrics")
        #expect(response.status == 200)
        #expect(response.header("Content-Type")?.hasPrefix("text/plain") == true)
        let samples = Set(response.body.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") })
        let expected = [
            #"labvisor_calls_total{method="get",outcome="ok"} 2"#,
            #"labvisor_calls_total{method="invoke",outcome="leaseRequired"} 1"#,
            #"labvisor_calls_total{method="invoke",outcome="ok"} 0"#,
            #"labvisor_instruments{state="ready"} 1.0"#,
            "labvisor_clients_connected 1.0",
            "labvisor_leases_held 1.0",
            #"labvisor_call_duration_seconds_count{method="get"} 2"#,
            #"labvisor_call_duration_seconds_bucket{method="get",le="+Inf"} 2"#,
            #"labvisor_call_duration_seconds_count{method="invoke"} 1"#,
        ]
        for sample in expected {
            #expect(samples.contains(sample), "\(sample) in:\n\(response.body)")
        }
        #expect(response.body.contains("# TYPE labvisor_call_duration_seconds histogram"))
        try await client.release(lease)
        await client.close()
        #expect(try await daemon.stop() == 0, "\(daemon.logText)")
    }
}
