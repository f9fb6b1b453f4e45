/// The one line `systemctl status labvisord` shows (`STATUS=`): instruments by lifecycle
/// state, connected clients and leases held, e.g.
/// `4 instruments (3 ready, 1 gone), 2 clients, 1 lease`.
public enum DaemonStatusLine {
    /// The line for `supervisor` with `clients` connected.
    public static func text(supervisor: Supervisor, clients: Int) -> String {
        let instruments = (try? supervisor.list(ListInstruments.Params()).instruments) ?? []
        var byState: [String: Int] = [:]
        for instrument in instruments { byState[instrument.state, default: 0] += 1 }
        let states = byState.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map { "\($0.value) \($0.key)" }
        let leases = supervisor.leases.leases.count
        return "\(counted(instruments.count, "instrument"))"
            + (states.isEmpty ? "" : " (\(states.joined(separator: ", ")))")
            + ", \(counted(clients, "client")), \(counted(leases, "lease"))"
    }

    private static func counted(_ count: Int, _ noun: String) -> String {
        "\(count) \(noun)\(count == 1 ? "" : "s")"
    }
}
