import Foundation
import LabvisorDriverKit
import Logging

/// One instrument of the inventory: its name, driver and tags, its lifecycle, and its
/// reference-counted driver session (the first user opens the driver, the last closes it
/// after the linger).
public final class ManagedInstrument: Sendable {
    /// The stable name.
    public let name: String
    /// `stage`, `laser`, `camera`, `sensor`, `other`.
    public let kind: String
    /// The driver.
    public let driver: DriverCatalog.Entry
    /// Tags from the config (requirement queries see them); a configuration reload may change them.
    public var tags: [String: JSONValue] { currentTags.withLock { $0 } }
    private let currentTags: LockedState<[String: JSONValue]>
    /// The hardware identity, for a discovered device (the latest, after a replug).
    public var identity: DeviceIdentity? { link.withLock { $0.identity } }
    /// Whether it runs against a simulator.
    public let simulated: Bool
    /// How it is simulated (`in-process serial simulator on a PTY pair`, ...), for `daemon.status`.
    public let simulation: String?
    /// The lifecycle state machine.
    public let lifecycle: InstrumentLifecycle
    /// The driver session.
    public let session: SharedSession<any HostedInstrument>
    private let identification = LockedState<InstrumentIdentification?>(nil)
    private let link: LockedState<DeviceLink>
    /// Whether the device is away, and since when (see `Absence`).
    let absence = LockedState(Absence.State())
    private let fanouts = LockedState<[String: FrameFanout]>([:])

    /// Creates an instrument whose driver opens on `connect()`'s transport when first used.
    ///
    /// - Parameters:
    ///   - connect: opens the transport (a serial port on the device node, or a simulator's PTY).
    ///   - linger: how long the driver stays open after its last user.
    ///   - shutdownTimeout: how long the driver's safe-state shutdown may take.
    public convenience init(
        name: String, kind: String, driver: DriverCatalog.Entry, tags: [String: JSONValue] = [:],
        identity: DeviceIdentity? = nil, simulated: Bool = false, simulation: String? = nil, linger: Duration = .seconds(2),
        shutdownTimeout: Duration = .seconds(5), events: EventBus, logger: Logger,
        connect: @escaping @Sendable () throws -> DriverConnection
    ) {
        self.init(
            name: name, kind: kind, driver: driver, tags: tags,
            link: DeviceLink(identity: identity, location: identity?.portPath ?? name, connect: connect),
            simulated: simulated, simulation: simulation, linger: linger, shutdownTimeout: shutdownTimeout, events: events, logger: logger)
    }

    /// Creates an instrument whose driver opens on `link`'s transport when first used (and
    /// again on the new link after the device was replugged).
    ///
    /// - Parameters:
    ///   - link: the device and how to open its transport.
    ///   - simulation: how it is simulated, for `daemon.status` (`nil`: hardware).
    ///   - linger: how long the driver stays open after its last user.
    ///   - shutdownTimeout: how long the driver's safe-state shutdown may take.
    public init(
        name: String, kind: String, driver: DriverCatalog.Entry, tags: [String: JSONValue] = [:], link: DeviceLink,
        simulated: Bool = false, simulation: String? = nil, linger: Duration = .seconds(2), shutdownTimeout: Duration = .seconds(5),
        events: EventBus, logger: Logger
    ) {
        self.name = name
        self.kind = kind
        self.driver = driver
        self.currentTags = LockedState(tags)
        self.simulated = simulated
        let link = LockedState(link)
        self.link = link
        self.simulation = simulation
        let lifecycle = InstrumentLifecycle(instrument: name, events: events)
        self.lifecycle = lifecycle
        let identification = self.identification
        session = SharedSession(
            name: "instrument \(name)", linger: linger,
            startup: {
                // Compare-and-set transitions throughout: a device that goes away meanwhile
                // stays `gone` (only a re-attach takes it out of there).
                _ = try? lifecycle.transition(to: .opening, reason: "first session opened")
                do {
                    let current = link.withLock { $0 }
                    let context = DriverContext(
                        instrument: name, connection: try current.connect(), identity: current.identity, logger: logger,
                        events: events)
                    let hosted = try await driver.open(context, events)
                    identification.withLock { $0 = hosted.identification }
                    _ = try? lifecycle.transition(from: .opening, to: .ready, reason: "driver opened")
                    return hosted
                } catch {
                    logger.warning("instrument \(name): opening its driver failed: \(error)")
                    _ = try? lifecycle.transition(from: .opening, to: .faulted, reason: "opening failed: \(error)")
                    throw error
                }
            },
            shutdown: { hosted in
                let gone = lifecycle.state == .gone
                if !gone { _ = try? lifecycle.transition(to: .closing, reason: "last session closed") }
                do {
                    try await hosted.shutdown(timeout: shutdownTimeout)
                    _ = try? lifecycle.transition(from: .closing, to: .discovered, reason: "driver shut down to its safe state")
                } catch {
                    // A driver whose device is gone cannot reach its safe state: expected, not an error.
                    if gone {
                        logger.info("instrument \(name): driver closed after its device went away (\(error))")
                    } else {
                        logger.error("instrument \(name): shutdown to the safe state failed: \(error)")
                    }
                    _ = try? lifecycle.transition(from: .closing, to: .faulted, reason: "shutdown failed: \(error)")
                }
            })
    }

    /// Updates what a configuration reload may change in place: the tags and the linger (the
    /// driver session, its references and the leases are untouched).
    func update(tags: [String: JSONValue], linger: Duration) {
        currentTags.withLock { $0 = tags }
        session.setLinger(linger)
    }

    /// The device link now.
    public var deviceLink: DeviceLink { link.withLock { $0 } }

    /// Points the instrument at its device's new place (after a replug); the next driver
    /// open uses it.
    func relink(_ new: DeviceLink) {
        link.withLock { $0 = new }
    }

    /// The fan-out of the driver's stream `source` to clients: one per stream of the running
    /// driver (a driver opened again gets new streams, hence new fan-outs).
    func fanout(for source: FrameStream) -> FrameFanout {
        fanouts.withLock { fanouts in
            if let fanout = fanouts[source.name], fanout.source === source, !fanout.hasEnded { return fanout }
            let fanout = FrameFanout(source: source)
            fanouts[source.name] = fanout
            return fanout
        }
    }

    /// What the device reported when its driver last opened.
    public var lastIdentification: InstrumentIdentification? { identification.withLock { $0 } }

    /// The stable identity key the state store remembers it by: the device's `stableKey`, or
    /// `config:<name>` for an instrument without a device (simulated, built-in).
    public var identityKey: String { identity?.stableKey ?? "config:\(name)" }

    /// The document requirement queries match against.
    public var document: JSONValue {
        var object: [String: JSONValue] = [
            "name": .string(name), "kind": .string(kind), "driver": .string(driver.id),
            "state": .string(lifecycle.state.rawValue), "tags": .object(tags), "simulated": .bool(simulated),
        ]
        if let identity { object["identity"] = identity.document }
        return .object(object)
    }
}

extension ManagedInstrument {
    /// Why the device is away, `nil` while it is present.
    public var absent: Absence? { absence.withLock { $0.current } }

    /// The attachment number now (it grows by one at each re-attach).
    var attachment: UInt64 { absence.withLock { $0.attachment } }

    /// The `deviceGone` error calls get while the device is away.
    func goneError(_ absence: Absence) -> LabvisorError {
        let left = max(0, absence.graceEnds.timeIntervalSinceNow)
        return LabvisorError(
            .deviceGone,
            "instrument \(name) is gone (\(absence.reason)); it is kept for \(String(format: "%.1f", left)) s more in case the device comes back",
            fields: [
                "instrument": .string(name), "reason": .string(absence.reason),
                "since": .string(absence.since.formatted(.iso8601)), "graceEnds": .string(absence.graceEnds.formatted(.iso8601)),
            ])
    }

    /// Throws `deviceGone` while the device is away.
    func checkPresent() throws(LabvisorError) {
        if let absence = absent { throw goneError(absence) }
    }
}
