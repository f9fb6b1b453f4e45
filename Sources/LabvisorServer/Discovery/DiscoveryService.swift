import LabvisorDriverKit
import LabvisorReferenceDrivers
import Logging
import ServiceLifecycle

/// The daemon's hardware inventory from udev discovery: a `Service` that runs `UdevDiscovery`
/// (the coldplug scan, then the hotplug monitor) and turns its events into the supervisor's
/// instruments.
///
/// - A device the configuration pins (by serial or port path) becomes that instrument; a
///   device exactly one manifest claims becomes `<driver>-<serial>`. A device nobody claims
///   is never opened (`DeviceBinding`). The driver opens on first use, on the device's tty
///   node (serial manifests) or its USB device (usb manifests), through the real transport.
/// - `removed`: the instrument goes `gone` (`Supervisor.deviceGone`), with its leases kept.
/// - `added` or `reattached` of a known device: it re-attaches under the same name
///   (`Supervisor.deviceReturned`), within the supervisor's grace period; after it, the
///   instrument was removed and is added again.
/// - `coldplugComplete`: `coldplugFinished(timeout:)` returns (the systemd notifier sends
///   `READY=1` once this and the listeners are up).
///
/// - A configuration reload (`reconfigure(_:manifests:)`): every device present is bound
///   again under the new pins; a device whose instrument changes is taken from the old one
///   and given to the new one.
///
/// If udev cannot be used, the error is logged, coldplug counts as finished, and the service
/// waits for shutdown: the daemon keeps serving its other instruments.
public final class DiscoveryService: Service, Sendable {
    private let supervisor: Supervisor
    /// The configuration and manifests devices are bound by (a reload replaces them).
    private let rules: LockedState<(configuration: DaemonConfiguration, manifests: [DriverManifest])>
    private let drivers: DriverCatalog
    private let reactor: IOReactor
    private let discovery: UdevDiscovery
    private let logger: Logger
    private let coldplug = Milestone("discovery's coldplug scan")
    /// Instrument names by device `stableKey`, the unclaimed devices already logged, and the
    /// devices present (bound or not) by `stableKey`, for a reload to bind them again.
    private let bound = LockedState((names: [String: String](), unclaimed: Set<String>(), present: [String: DeviceIdentity]()))

    /// Creates the service; nothing happens until `run()`.
    ///
    /// - Parameters:
    ///   - drivers: the driver code by manifest id (a claimed device whose driver has none is
    ///     logged and not opened).
    ///   - settleWindow: how long a device's events must be quiet before it is read.
    public init(
        supervisor: Supervisor, configuration: DaemonConfiguration, manifests: [DriverManifest],
        drivers: DriverCatalog = ReferenceDrivers.drivers, reactor: IOReactor = .shared,
        settleWindow: Duration = .milliseconds(75), logger: Logger
    ) {
        self.supervisor = supervisor
        self.rules = LockedState((configuration, manifests))
        self.drivers = drivers
        self.reactor = reactor
        self.logger = logger
        discovery = UdevDiscovery(
            configuration: DiscoveryConfiguration(settleWindow: settleWindow, gracePeriod: supervisor.gracePeriod), logger: logger)
    }

    /// Whether the coldplug scan has been handled (every device present at start is in the
    /// inventory), or discovery failed to start.
    public var isColdplugDone: Bool { coldplug.isReached }

    /// Returns once every device present at start is in the inventory (or discovery could not
    /// start, which is logged).
    ///
    /// - Throws: `timeout` past `timeout` (`nil`: no deadline); `CancellationError`.
    public func coldplugFinished(timeout: Duration? = nil) async throws {
        try await coldplug.wait(timeout: timeout)
    }

    public func run() async throws {
        async let handled: Void = consume(discovery.events)
        do {
            try await discovery.run()
        } catch {
            logger.error("udev discovery stopped: \(error); hardware instruments will not appear or go away until labvisord restarts")
            coldplug.reach()
            await handled
            try? await gracefulShutdown()
            return
        }
        await handled
    }

    // MARK: - Events

    private func consume(_ events: AsyncStream<DiscoveryEvent>) async {
        for await event in events { await handle(event) }
    }

    private func handle(_ event: DiscoveryEvent) async {
        switch event {
        case .added(let identity), .reattached(let identity), .changed(let identity):
            await present(identity)
        case .removed(let identity):
            guard let name = bound.withLock({ bound in
                bound.present.removeValue(forKey: identity.stableKey)
                return bound.names[identity.stableKey]
            }) else { return }
            await supervisor.deviceGone(name, reason: "device \(identity.stableKey) was unplugged from USB port \(identity.portPath)")
        case .expired(let identity):
            logger.debug("discovery forgot device \(identity.stableKey) (its grace period ended)")
        case .coldplugComplete:
            logger.info("coldplug done: \(bound.withLock { $0.names.count }) devices bound to instruments")
            coldplug.reach()
        }
    }

    /// A device is there (plugged in, back, or changed): bind it, then add, re-attach or relink its instrument.
    private func present(_ identity: DeviceIdentity) async {
        bound.withLock { _ = $0.present.updateValue(identity, forKey: identity.stableKey) }
        let (configuration, manifests) = rules.withLock { $0 }
        let binding: DeviceBinding
        switch DeviceBinding.bind(identity, manifests: manifests, configuration: configuration) {
        case .unclaimed:
            let first = bound.withLock { $0.unclaimed.insert(identity.stableKey).inserted }
            if first {
                logger.debug("device \(identity.stableKey) at \(identity.portPath) is claimed by no pin or manifest: never opened")
            }
            return
        case .refused(let sentence):
            logger.error("\(sentence)")
            return
        case .bound(let bound):
            binding = bound
        }
        guard let driver = drivers.entries[binding.manifest.id] else {
            logger.error("device \(identity.stableKey) is claimed by driver '\(binding.manifest.id)', which has a manifest but no driver code in this daemon: not opened")
            return
        }
        guard let link = binding.link(identity, reactor: reactor) else {
            logger.info("device \(identity.stableKey) (\(binding.name)) has no tty node yet; waiting for it")
            return
        }
        bound.withLock { $0.names[identity.stableKey] = binding.name }
        if supervisor.instrumentNames.contains(binding.name) {
            do {
                try await supervisor.deviceReturned(binding.name, link: link)
                return
            } catch {
                // Removed meanwhile (its grace period ended): added again below.
            }
        }
        supervisor.add(ManagedInstrument(
            name: binding.name, kind: binding.manifest.kind.rawValue, driver: driver, tags: binding.configured?.tags ?? [:],
            link: link, linger: binding.configured?.linger ?? configuration.defaultLinger, events: supervisor.events,
            logger: logger))
        logger.info("instrument \(binding.name): \(binding.manifest.id) on \(link.location) (\(identity.stableKey))")
    }

    // MARK: - Reload

    /// Binds devices by `configuration`'s pins and `manifests` from now on, and binds every
    /// device present again: a device whose instrument name changes (pinned anew, unpinned,
    /// pinned to another name) has its old instrument retired (lease revoked with a reason
    /// saying so) and becomes the new one; a device whose instrument a reload removed (a
    /// replaced pin) is added again. Returns once done.
    public func reconfigure(_ configuration: DaemonConfiguration, manifests: [DriverManifest]) async {
        rules.withLock { $0 = (configuration, manifests) }
        let devices = bound.withLock { bound in
            bound.unclaimed = []
            return Array(bound.present.values)
        }
        for identity in devices.sorted(by: { $0.stableKey < $1.stableKey }) {
            let new: String? =
                switch DeviceBinding.bind(identity, manifests: manifests, configuration: configuration) {
                case .bound(let binding): binding.name
                case .unclaimed, .refused: nil
                }
            let old = bound.withLock { $0.names[identity.stableKey] }
            if let old, old != new {
                bound.withLock { _ = $0.names.removeValue(forKey: identity.stableKey) }
                let now = new.map { "instrument \($0)" } ?? "no instrument"
                await supervisor.retire(
                    old, reason: "instrument \(old) was removed by a configuration reload: its device \(identity.stableKey) is now \(now)")
            }
            if let new, old != new || !supervisor.instrumentNames.contains(new) {
                await present(identity)
            }
        }
    }
}
