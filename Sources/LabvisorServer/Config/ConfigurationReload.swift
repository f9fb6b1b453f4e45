import Foundation
import LabvisorHardware
import Logging

/// Re-reads the daemon's configuration file and applies what changed
/// (`ConfigurationChange`), on SIGHUP (`HangupSignalService`, `systemctl reload`).
///
/// - A file that does not load (a syntax error, an unknown key or driver, two instruments of
///   one name, a missing simulator) is rejected as a whole: the error is logged naming the
///   file, line and key, the configuration in force is kept, and the audit log records
///   `configReloadRejected` with the error.
/// - Otherwise removed and replaced instruments are retired to their safe state (leases
///   revoked, `instrumentRemoved` with the reason), updated ones get their new tags and linger
///   in place, added and replaced ones start (simulated) or are bound by discovery (pinned,
///   when their device is or comes there), live daemon settings apply, and settings that need
///   a restart are logged and kept at their old value. Instruments that did not change are
///   not touched: their sessions, leases and calls in flight go on. The access lists and the
///   tokens file (re-read with the file: a malformed one rejects the reload like any other
///   error) are put in force as a new `AccessGeneration` before anything else: new
///   connections get them, existing ones recompute their grants at their next check. The
///   audit log records `configReload` with `+added -removed ~changed` (and `access lists
///   changed`, `tokens changed`).
///
/// Reloads run one at a time; one asked for while another runs is rejected.
public final class ConfigurationReload: Sendable {
    /// How a reload ended.
    public enum Outcome: Sendable {
        /// The new configuration is in force; what changed.
        case applied(ConfigurationChange)
        /// The new configuration was refused (the old one is in force); why.
        case rejected(LabvisorError)
    }

    /// The file re-read; `nil` when the daemon started without one (nothing to reload).
    public let file: String?
    /// The extra driver folder searched first (`--drivers`).
    public let drivers: String?
    private let supervisor: Supervisor
    private let simulators: SimulatedInstruments
    private let discovery: DiscoveryService?
    private let access: AccessInForce?
    private let logger: Logger
    private let state: LockedState<(configuration: DaemonConfiguration, reloading: Bool)>

    /// Creates the reloader of a daemon started with `configuration` (read from
    /// `configuration.file`).
    ///
    /// - Parameters:
    ///   - drivers: the folder searched before the configuration's driver search path.
    ///   - discovery: binds pinned instruments; `nil` when the daemon runs no udev discovery.
    ///   - access: the access lists and tokens the wire server checks (`nil`: none to update).
    public init(
        configuration: DaemonConfiguration, drivers: String? = nil, supervisor: Supervisor,
        simulators: SimulatedInstruments, discovery: DiscoveryService?, access: AccessInForce? = nil, logger: Logger
    ) {
        self.file = configuration.file
        self.access = access
        self.drivers = drivers
        self.supervisor = supervisor
        self.simulators = simulators
        self.discovery = discovery
        self.logger = logger
        state = LockedState((configuration, false))
    }

    /// The configuration in force (settings that need a restart keep their old values).
    public var configuration: DaemonConfiguration { state.withLock { $0.configuration } }

    /// Re-reads the file and applies it; `actor` says who asked, for the audit log (`SIGHUP`).
    /// Returns once every change is applied (removed instruments down, added ones started).
    public func reload(by actor: String) async -> Outcome {
        guard let file else {
            return reject(
                LabvisorError(
                    .unavailable, "labvisord was started without a configuration file: there is nothing to re-read (restart it with --config)"),
                by: actor)
        }
        let busy = state.withLock { state in
            defer { state.reloading = true }
            return state.reloading
        }
        if busy {
            return reject(LabvisorError(.unavailable, "a configuration reload of \(file) is under way; try again when it has finished"), by: actor)
        }
        defer { state.withLock { $0.reloading = false } }
        let old = configuration
        let loaded: (configuration: DaemonConfiguration, manifests: [DriverManifest])
        do {
            loaded = try DaemonConfiguration.loadWithDrivers(file, drivers: drivers)
        } catch {
            return reject(error, by: actor)
        }
        var new = loaded.configuration
        let change = ConfigurationChange(from: old, to: new)
        for key in change.restartSettings {
            logger.warning("configuration reload: daemon.\(key) changed in \(file); takes effect at restart (the value in force is kept until then)")
        }
        // Kept in force: the next reload compares against what the daemon really uses.
        new.socket = old.socket
        new.http = old.http
        new.stateDirectory = old.stateDirectory
        new.historyDays = old.historyDays
        new.maxClients = old.maxClients
        new.callsInFlight = old.callsInFlight
        new.gracePeriod = old.gracePeriod
        // The listener (address, TLS, insecure) stays until restart; its tokens apply now.
        if let listener = old.tcp, let tokens = new.tcp.map({ $0.tokens }) {
            new.tcp = listener
            new.tcp?.tokens = tokens
        } else {
            new.tcp = old.tcp
        }
        if new.access != old.access || new.tcp?.tokens != old.tcp?.tokens {
            access?.replace(policy: new.access, tokens: new.tcp?.tokens)
        }
        await apply(change, configuration: new, manifests: loaded.manifests)
        state.withLock { $0.configuration = new }
        logger.notice("configuration reload of \(file) applied: \(change.summary)\(change.liveSettings.isEmpty ? "" : "; daemon settings applied: \(change.liveSettings.joined(separator: ", "))")")
        supervisor.recordAudit(actor: actor, action: "configReload", target: file, detail: change.summary)
        return .applied(change)
    }

    private func reject(_ error: LabvisorError, by actor: String) -> Outcome {
        logger.error("configuration reload rejected; the configuration in force is kept: \(error.message)")
        supervisor.recordAudit(actor: actor, action: "configReloadRejected", target: file ?? "", detail: error.message)
        return .rejected(error)
    }

    private func apply(_ change: ConfigurationChange, configuration: DaemonConfiguration, manifests: [DriverManifest]) async {
        let retirements =
            change.removed.map { ($0.name, "instrument \($0.name) was removed from the configuration by reload") }
            + change.replaced.map { ($0.name, "instrument \($0.name) was changed in the configuration by reload (driver, pin or simulate): it is added again") }
        await withTaskGroup(of: Void.self) { group in
            for (name, reason) in retirements {
                group.addTask {
                    await self.supervisor.retire(name, reason: reason)
                    self.simulators.remove(name)
                }
            }
        }
        for instrument in change.updated {
            supervisor.update(instrument.name, tags: instrument.tags, linger: instrument.linger ?? configuration.defaultLinger)
        }
        supervisor.setLimits(callTimeout: configuration.defaultCallTimeout, streamsPerClient: configuration.streamsPerClient)
        for instrument in change.added + change.replaced {
            if instrument.simulate != nil {
                do {
                    try simulators.add(instrument, defaultLinger: configuration.defaultLinger, manifests: manifests)
                } catch {
                    logger.error("configuration reload: instrument \(instrument.name) could not start: \(error)")
                }
            } else if discovery == nil {
                logger.warning("configuration reload: instrument \(instrument.name) is pinned to hardware, but this daemon runs no udev discovery (--demo started without pinned instruments): restart labvisord to bind it")
            }
        }
        await discovery?.reconfigure(configuration, manifests: manifests)
    }
}
