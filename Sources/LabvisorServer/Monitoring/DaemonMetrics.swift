import Prometheus

/// What `GET /metrics` reports, in Prometheus text format (swift-prometheus for counters and
/// gauges; the latency histograms are lock-free `LatencyHistogram`s rendered beside them):
///
/// - `labvisor_instruments{state=...}`: instruments by lifecycle state (every state, zeros too);
/// - `labvisor_clients_connected`, `labvisor_leases_held`, `labvisor_event_subscribers`,
///   `labvisor_uptime_seconds`;
/// - `labvisor_calls_total{method=invoke|get|set, outcome=ok|<error code>}`;
/// - `labvisor_call_duration_seconds{method=...}`: a histogram from dispatch to response.
///
/// Call metrics are recorded where calls end (`CallObserver`): two atomic adds and a counter
/// increment, no lock. The gauges are read from the supervisor when scraped.
public final class DaemonMetrics: CallObserver, Sendable {
    /// The swift-prometheus registry holding the counters and gauges (and, when labvisord
    /// bootstraps swift-metrics with it, every library's metrics).
    public let registry: PrometheusCollectorRegistry
    private let calls: [InstrumentCallKind: [String: Counter]]
    private let latency: [InstrumentCallKind: LatencyHistogram]
    private let instruments: [String: Gauge]
    private let clients: Gauge
    private let leases: Gauge
    private let subscribers: Gauge
    private let uptime: Gauge

    /// Creates the metrics in `registry`.
    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        let outcomes = ["ok"] + ErrorCode.allCases.map(\.rawValue)
        var calls: [InstrumentCallKind: [String: Counter]] = [:]
        var latency: [InstrumentCallKind: LatencyHistogram] = [:]
        for kind in InstrumentCallKind.allCases {
            for outcome in outcomes {
                calls[kind, default: [:]][outcome] = registry.makeCounter(
                    descriptor: Self.metric("labvisor_calls_total", "Instrument calls (invoke, get, set) by wire method and outcome (ok or the error code)."),
                    labels: [("method", kind.rawValue), ("outcome", outcome)])
            }
            latency[kind] = LatencyHistogram()
        }
        self.calls = calls
        self.latency = latency
        var instruments: [String: Gauge] = [:]
        for state in LifecycleState.allCases {
            instruments[state.rawValue] = registry.makeGauge(
                descriptor: Self.metric("labvisor_instruments", "Instruments in the inventory by lifecycle state."), labels: [("state", state.rawValue)])
        }
        self.instruments = instruments
        clients = registry.makeGauge(descriptor: Self.metric("labvisor_clients_connected", "Clients connected to the wire server."))
        leases = registry.makeGauge(descriptor: Self.metric("labvisor_leases_held", "Leases held."))
        subscribers = registry.makeGauge(descriptor: Self.metric("labvisor_event_subscribers", "Event subscriptions open."))
        uptime = registry.makeGauge(descriptor: Self.metric("labvisor_uptime_seconds", "Seconds since the daemon started."))
    }

    /// The descriptor of the metric named `name` in full (`labvisor_calls_total`).
    private static func metric(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    public func callEnded(_ kind: InstrumentCallKind, error: ErrorCode?, duration: Duration) {
        calls[kind]?[error?.rawValue ?? "ok"]?.increment()
        latency[kind]?.record(duration)
    }

    /// The Prometheus text exposition: gauges read from `supervisor` and `clients` now,
    /// then every counter and histogram.
    public func exposition(supervisor: Supervisor, clients connected: Int) -> String {
        let summaries = (try? supervisor.list(ListInstruments.Params()).instruments) ?? []
        var byState: [String: Int] = [:]
        for instrument in summaries { byState[instrument.state, default: 0] += 1 }
        for (state, gauge) in instruments { gauge.set(Double(byState[state] ?? 0)) }
        clients.set(Double(connected))
        leases.set(Double(supervisor.leases.leases.count))
        subscribers.set(Double(supervisor.events.subscriberCount))
        uptime.set((ContinuousClock.now - supervisor.startedAt).seconds)
        var text = registry.emitToString()
        let name = "labvisor_call_duration_seconds"
        text += "# HELP \(name) Time from an instrument call's dispatch to its response, by wire method.\n"
        text += "# TYPE \(name) histogram\n"
        for kind in InstrumentCallKind.allCases {
            text += latency[kind]?.samples(name, labels: "method=\"\(kind.rawValue)\"") ?? ""
        }
        return text
    }
}
