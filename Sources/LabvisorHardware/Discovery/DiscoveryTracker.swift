import LabvisorCore

/// The grouping, debounce and grace-period rules of discovery, without any I/O: the monitor
/// thread feeds it uevents and the identities it read, and publishes what it returns.
/// Devices are keyed by the usb_device's sysfs path while present and by `stableKey` while gone.
struct DiscoveryTracker: Sendable {
    /// The timing rules.
    let configuration: DiscoveryConfiguration
    /// Present devices by usb_device sysfs path.
    private(set) var present: [String: DeviceIdentity] = [:]
    /// usb_device sysfs paths with recent activity, and when they settle.
    private(set) var pending: [String: ContinuousClock.Instant] = [:]
    /// Removed devices by `stableKey`, and when their grace period ends.
    private(set) var gone: [String: (identity: DeviceIdentity, expiry: ContinuousClock.Instant)] = [:]

    init(configuration: DiscoveryConfiguration) {
        self.configuration = configuration
    }

    /// A device found by the coldplug scan: reported at once (nothing to debounce).
    mutating func coldplug(_ identity: DeviceIdentity) -> [DiscoveryEvent] {
        resolve(identity.sysfsPath, identity: identity, now: .now)
    }

    /// The usb_device sysfs path that `syspath` (the device itself, an interface or a tty
    /// below it) belongs to, among the present and settling devices. Used for remove events,
    /// whose sysfs entries may already be gone.
    func knownDevice(containing syspath: String) -> String? {
        var best: String?
        for candidate in Set(present.keys).union(pending.keys) where syspath == candidate || syspath.hasPrefix(candidate + "/") {
            if candidate.count > (best?.count ?? 0) { best = candidate }
        }
        return best
    }

    /// An add, change, bind or unbind event for the device at `usbDevice` or one of its
    /// children: (re)starts its settle window.
    mutating func noteActivity(usbDevice: String, now: ContinuousClock.Instant) {
        pending[usbDevice] = now + configuration.settleWindow
    }

    /// The usb_device itself was removed. Duplicate or unknown removes return nothing.
    mutating func remove(usbDevice: String, now: ContinuousClock.Instant) -> [DiscoveryEvent] {
        pending[usbDevice] = nil
        guard let identity = present.removeValue(forKey: usbDevice) else { return [] }
        gone[identity.stableKey] = (identity, now + configuration.gracePeriod)
        return [.removed(identity)]
    }

    /// Takes the devices whose settle window has passed; the caller reads their identity
    /// and hands it to `resolve`.
    mutating func takeSettled(now: ContinuousClock.Instant) -> [String] {
        let settled = pending.filter { $0.value <= now }.map(\.key).sorted()
        for key in settled { pending[key] = nil }
        return settled
    }

    /// The identity read for a settled device (`nil`: it vanished meanwhile).
    mutating func resolve(_ usbDevice: String, identity: DeviceIdentity?, now: ContinuousClock.Instant)
        -> [DiscoveryEvent]
    {
        guard let identity else { return remove(usbDevice: usbDevice, now: now) }
        if let old = present[usbDevice] {
            present[usbDevice] = identity
            if old.stableKey != identity.stableKey {
                // Another device at the same path (missed remove): report it as such.
                gone[old.stableKey] = (old, now + configuration.gracePeriod)
                return [.removed(old)] + arrived(identity)
            }
            return old == identity ? [] : [.changed(identity)]
        }
        present[usbDevice] = identity
        return arrived(identity)
    }

    private mutating func arrived(_ identity: DeviceIdentity) -> [DiscoveryEvent] {
        if gone.removeValue(forKey: identity.stableKey) != nil { return [.reattached(identity)] }
        return [.added(identity)]
    }

    /// Ends the grace periods that have passed.
    mutating func expire(now: ContinuousClock.Instant) -> [DiscoveryEvent] {
        let ended = gone.filter { $0.value.expiry <= now }.sorted { $0.key < $1.key }
        for (key, _) in ended { gone[key] = nil }
        return ended.map { .expired($0.value.identity) }
    }

    /// The next instant at which `takeSettled` or `expire` has something to do.
    var nextDeadline: ContinuousClock.Instant? {
        (pending.values.map { $0 } + gone.values.map(\.expiry)).min()
    }
}
