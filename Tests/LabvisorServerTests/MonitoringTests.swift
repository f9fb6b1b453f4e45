import Foundation
import LabvisorServer
import Testing

/// The pieces of `/metrics` and `/healthz` that need no daemon: the listen address, the
/// `http` key, the exposition after recorded calls, the bounded liveness check.
@Suite("MonitoringTests", .timeLimit(.minutes(1)))
struct MonitoringTests {
    @Test func listenAddresses() throws {
        #expect(try ListenAddress(parsing: "127.0.0.1:9464", key: "k") == ListenAddress(host: "127.0.0.1", port: 9464))
        #expect(try ListenAddress(parsing: "[::1]:0", key: "k") == ListenAddress(host: "::1", port: 0))
        #expect(ListenAddress(host: "::1", port: 80).description == "[::1]:80")
        for bad in ["9464", "localhost:", ":80", "host:70000", "a b:1"] {
            let error = #expect(throws: LabvisorError.self) { try ListenAddress(parsing: bad, key: "daemon.http") }
            #expect(error?.code == .invalidArgument && error?.message.contains(bad) == true, "\(bad)")
        }
    }

    @Test func httpKeyIsOffByDefaultAndErrorsNameTheLine() throws {
        #expect(try DaemonConfiguration.parse("", file: "lab.toml").http == nil)
        #expect(try DaemonConfiguration.parse("[daemon]\nhttp = \"127.0.0.1:9464\"\n", file: "lab.toml").http?.port == 9464)
        let error = #expect(throws: LabvisorError.self) {
            try DaemonConfiguration.parse("[daemon]\nlinger = 1\nhttp = \"everywhere\"\n", file: "lab.toml")
        }
        #expect(error?.fields["file"] == "lab.toml")
        #expect(error?.fields["line"] == 3, "\(String(describing: error))")
        #expect(error?.message.contains("everywhere") == true)
    }

    @Test func expositionCountsCallsAndBucketsCumulatively() {
        let metrics = DaemonMetrics()
        metrics.callEnded(.invoke, error: nil, duration: .microseconds(80))
        metrics.callEnded(.invoke, error: nil, duration: .milliseconds(3))
        metrics.callEnded(.invoke, error: .deadlineExceeded, duration: .seconds(60))
        metrics.callEnded(.set, error: .leaseRequired, duration: .microseconds(20))
        let text = metrics.exposition(supervisor: Supervisor(), clients: 3)
        let samples = Set(text.split(separator: "\n").map(String.init))
        for sample in [
            #"labvisor_calls_total{method="invoke",outcome="ok"} 2"#,
            #"labvisor_calls_total{method="invoke",outcome="deadlineExceeded"} 1"#,
            #"labvisor_calls_total{method="set",outcome="leaseRequired"} 1"#,
            #"labvisor_calls_total{method="get",outcome="ok"} 0"#,
            #"labvisor_call_duration_seconds_bucket{method="invoke",le="5e-05"} 0"#,
            #"labvisor_call_duration_seconds_bucket{method="invoke",le="0.0001"} 1"#,
            #"labvisor_call_duration_seconds_bucket{method="invoke",le="0.005"} 2"#,
            #"labvisor_call_duration_seconds_bucket{method="invoke",le="30.0"} 2"#,
            #"labvisor_call_duration_seconds_bucket{method="invoke",le="+Inf"} 3"#,
            #"labvisor_call_duration_seconds_count{method="invoke"} 3"#,
            #"labvisor_call_duration_seconds_sum{method="invoke"} 60.00308"#,
            #"labvisor_call_duration_seconds_bucket{method="set",le="5e-05"} 1"#,
            #"labvisor_instruments{state="ready"} 0.0"#,
            "labvisor_clients_connected 3.0",
            "labvisor_leases_held 0.0",
        ] {
            #expect(samples.contains(sample), "\(sample) in:\n\(text)")
        }
        #expect(text.contains("# TYPE labvisor_calls_total counter"))
        #expect(text.contains("# TYPE labvisor_call_duration_seconds histogram"))
    }

    @Test func livenessCheckIsBoundedAndNamesTheStalledProbe() async {
        #expect(await LivenessProbe.checkAll([LivenessProbe("quick") {}, .supervisor(Supervisor())], within: .seconds(5)) == nil)
        let stalled = LivenessProbe("stuck lock") { try await Task.sleep(for: .seconds(30)) }
        let started = ContinuousClock.now
        let error = await LivenessProbe.checkAll([stalled], within: .milliseconds(100))
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(error?.code == .timeout)
        #expect(error?.message.contains("'stuck lock'") == true, "\(String(describing: error))")
        let failing = LivenessProbe("broken") { throw LabvisorError(.driverFault, "it broke") }
        #expect(await LivenessProbe.checkAll([failing], within: .seconds(5))?.message == "it broke")
    }
}
