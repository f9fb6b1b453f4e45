/// What differs between the configuration in force and a newly read one, as a reload applies
/// it (`ConfigurationReload`, docs/operations.md "Reloading the configuration").
///
/// Instruments are matched by name:
/// - `added`: only in the new one (started, or bound when discovery has their device);
/// - `removed`: only in the old one (retired to the safe state, their leases revoked);
/// - `replaced`: driver, pin or `simulate` differ: removed, then added anew;
/// - `updated`: only the tags or the effective linger differ: changed in place, sessions and
///   leases kept;
/// - `unchanged`: the same; untouched.
///
/// Daemon settings either apply live (`liveSettings`) or only at the next start
/// (`restartSettings`, the old value is kept until then). Access lists and the tokens file
/// (re-read at every reload) always apply live (`accessChanged`, `tokensChanged`).
public struct ConfigurationChange: Sendable, Hashable {
    /// Instruments only in the new configuration, in its order.
    public var added: [InstrumentConfiguration] = []
    /// Instruments only in the old configuration, in its order.
    public var removed: [InstrumentConfiguration] = []
    /// Instruments whose driver, pin or `simulate` changed (the new configuration's entries).
    public var replaced: [InstrumentConfiguration] = []
    /// Instruments whose tags or effective linger changed, nothing else (the new entries).
    public var updated: [InstrumentConfiguration] = []
    /// The names of instruments that are the same in both.
    public var unchanged: [String] = []
    /// Changed `[daemon]` keys applied live: `call_timeout`, `streams_per_client`, `linger`, `drivers`.
    public var liveSettings: [String] = []
    /// Changed `[daemon]` keys that need a restart: `socket`, `http`, `state_dir`,
    /// `history_days`, `max_clients`, `calls_in_flight`, `grace_period`, and the TCP listener's `tcp`, `tls`
    /// (`[daemon.tls]`) and `insecure`.
    public var restartSettings: [String] = []
    /// Whether an access list (`[access]`'s or an instrument's `observe`, `control`,
    /// `administer`) was added, removed or changed its entries (a list that only moved to
    /// another line is not a change).
    public var accessChanged = false
    /// Whether the tokens the TCP listener accepts changed: the `tokens` key, or the tokens
    /// file's lines (a token added, removed or given another hash).
    public var tokensChanged = false

    /// The change from `old` to `new`.
    public init(from old: DaemonConfiguration, to new: DaemonConfiguration) {
        let before = Dictionary(old.instruments.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let after = Set(new.instruments.map(\.name))
        for instrument in new.instruments {
            guard let previous = before[instrument.name] else {
                added.append(instrument)
                continue
            }
            if previous.driver != instrument.driver || previous.pin != instrument.pin || previous.simulate != instrument.simulate {
                replaced.append(instrument)
            } else if previous.tags != instrument.tags
                || (previous.linger ?? old.defaultLinger) != (instrument.linger ?? new.defaultLinger)
            {
                updated.append(instrument)
            } else {
                unchanged.append(instrument.name)
            }
        }
        removed = old.instruments.filter { !after.contains($0.name) }

        func compare<Value: Equatable>(_ key: String, _ value: (DaemonConfiguration) -> Value, live: Bool) {
            guard value(old) != value(new) else { return }
            if live { liveSettings.append(key) } else { restartSettings.append(key) }
        }
        compare("socket", \.socket, live: false)
        compare("http", \.http, live: false)
        compare("state_dir", \.stateDirectory, live: false)
        compare("history_days", \.historyDays, live: false)
        compare("max_clients", \.maxClients, live: false)
        compare("calls_in_flight", \.callsInFlight, live: false)
        compare("grace_period", \.gracePeriod, live: false)
        compare("call_timeout", \.defaultCallTimeout, live: true)
        compare("streams_per_client", \.streamsPerClient, live: true)
        compare("linger", \.defaultLinger, live: true)
        compare("drivers", \.driverSearchPath, live: true)
        compare("tcp", \.tcp?.address, live: false)
        compare("tls", \.tcp?.tls, live: false)
        compare("insecure", \.tcp?.insecure, live: false)
        accessChanged = Self.lists(old.access) != Self.lists(new.access)
        tokensChanged = old.tcp?.tokens != new.tcp?.tokens
    }

    /// The policy's lists as tables, keys and entries (without their files and lines).
    private static func lists(_ policy: AccessPolicy) -> [String: [AccessEntry]] {
        var lists: [String: [AccessEntry]] = [:]
        for (level, list) in policy.defaults { lists["[access] \(level)"] = list.entries }
        for (name, levels) in policy.instruments {
            for (level, list) in levels { lists["[instrument \(name)] \(level)"] = list.entries }
        }
        return lists
    }

    /// Whether no instrument changes (daemon settings may).
    public var leavesInstrumentsAlone: Bool { added.isEmpty && removed.isEmpty && replaced.isEmpty && updated.isEmpty }

    /// `+added -removed ~changed` with the names (`~` for replaced and updated alike), or
    /// `no instrument changes`, then `; access lists changed` and `; tokens changed` when
    /// they did; for the log and the audit entry.
    public var summary: String {
        let parts =
            added.map { "+\($0.name)" } + removed.map { "-\($0.name)" } + replaced.map { "~\($0.name)" } + updated.map { "~\($0.name)" }
        var summary = parts.isEmpty ? "no instrument changes" : parts.joined(separator: " ")
        if accessChanged { summary += "; access lists changed" }
        if tokensChanged { summary += "; tokens changed" }
        return summary
    }
}
