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
    /// Tags from the config (requirement queries see them).
    public let tags: [String: JSONValue]
    /// The hardware identity, for a discovered device.
    public let identity: DeviceIdentity?
    /// Whether it runs against a simulator.
    public let simulated: Bool
    /// The lifecycle state machine.
    public let lifecycle: InstrumentLifecycle
    /// The driver session.
    public let session: SharedSession<any HostedInstrument>
    private let identification = LockedState<InstrumentIdentification?>(nil)

    /// Creates an instrument whose driver opens on `connect()`'s transport when first used.
    ///
    /// - Parameters:
    ///   - connect: opens the transport (a serial port on the device node, or a simulator's PTY).
    ///   - linger: how long the driver stays open after its last user.
    ///   - shutdownTimeout: how long the driver's safe-state shutdown may take.
    public init(
        name: String, kind: String, driver: DriverCatalog.Entry, tags: [String: JSONValue] = [:],
        identity: DeviceIdentity? = nil, simulated: Bool = false, linger: Duration = .seconds(2),
        shutdownTimeout: Duration = .seconds(5), events: EventBus, logger: Logger,
        connect: @escaping @Sendable () throws -> DriverConnection
    ) {
        self.name = name
        self.kind = kind
        self.driver = driver
        self.tags = tags
        self.identity = identity
        self.simulated = simulated
        let lifecycle = InstrumentLifecycle(instrument: name, events: events)
        self.lifecycle = lifecycle
        let identification = self.identification
        session = SharedSession(
            name: "instrument \(name)", linger: linger,
            startup: {
                _ = try? lifecycle.transition(to: .opening, reason: "first session opened")
                do {
                    let context = DriverContext(
                        instrument: name, connection: try connect(), identity: identity, logger: logger, events: events)
                    let hosted = try await driver.open(context, events)
                    identification.withLock { $0 = hosted.identification }
                    _ = try? lifecycle.transition(to: .ready, reason: "driver opened")
                    return hosted
                } catch {
                    _ = try? lifecycle.transition(to: .faulted, reason: "opening failed: \(error)")
                    throw error
                }
            },
            shutdown: { hosted in
                _ = try? lifecycle.transition(to: .closing, reason: "last session closed")
                do {
                    try await hosted.shutdown(timeout: shutdownTimeout)
                    _ = try? lifecycle.transition(to: .discovered, reason: "driver shut down to its safe state")
                } catch {
                    logger.error("instrument \(name): shutdown to the safe state failed: \(error)")
                    _ = try? lifecycle.transition(to: .faulted, reason: "shutdown failed: \(error)")
                }
            })
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
