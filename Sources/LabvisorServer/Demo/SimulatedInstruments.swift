import Foundation
import LabvisorDriverKit
import LabvisorReferenceDrivers
import LabvisorSimulation
import Logging

/// The configuration's simulated instruments (`simulate = "<driver-id>"`; all of
/// `config/demo.toml` in `labvisord --demo`): each serial simulator runs in-process on a PTY,
/// and the real driver opens it through the real serial port code, so everything but the
/// hardware is real. A USB simulator (the UVC camera) is served in-process behind the
/// `USBDeviceIO` interface (`InProcessUSBDevice`): the real driver, without libusb.
///
/// `unplug(_:)` and `replug(_:)` play a serial device pulled out and plugged back in: the PTY
/// hangs up (the serial code sees it as a real port would), and a new PTY comes with the same
/// device state. The supervisor hears of both through the same calls discovery makes for
/// real hardware (`deviceGone`, `deviceReturned`).
public final class SimulatedInstruments: Sendable {
    private struct Plugged: Sendable {
        var simulator: any RunningSimulator
        var unplugged: Bool
        /// An unplug or replug of it is under way (they do not overlap).
        var changing = false
        let transport: SerialTransport
        /// The instrument on a link, to add it again when it was removed while unplugged.
        let instrument: @Sendable (DeviceLink) -> ManagedInstrument
    }

    private let running: LockedState<[String: Plugged]>
    private let supervisor: Supervisor
    private let reactor: IOReactor
    private let logger: Logger

    /// The running simulators, by instrument name (an unplugged one until it is replugged).
    public var simulators: [String: any RunningSimulator] { running.withLock { $0.mapValues(\.simulator) } }

    /// Starts a simulator for every instrument of `configuration` with `simulate`, and adds
    /// the instrument to `supervisor`.
    ///
    /// - Throws: `notFound` naming the instrument when its driver has no manifest, no driver
    ///   or no simulator; `invalidArgument` when its manifest's transport is not serial.
    public init(
        supervisor: Supervisor, configuration: DaemonConfiguration, manifests: [DriverManifest], reactor: IOReactor = .shared,
        logger: Logger
    ) throws {
        running = LockedState([:])
        self.supervisor = supervisor
        self.reactor = reactor
        self.logger = logger
        do {
            for instrument in configuration.instruments where instrument.simulate != nil {
                try add(instrument, defaultLinger: configuration.defaultLinger, manifests: manifests)
            }
        } catch {
            stop()
            throw error
        }
    }

    /// Checks that `instrument`'s simulator can run: its driver has a manifest among
    /// `manifests`, driver code, and a simulator for the manifest's transport. Nothing for an
    /// instrument without `simulate`. Returns the manifest (`nil` without `simulate`).
    ///
    /// - Throws: `notFound` naming the instrument and what is missing.
    @discardableResult
    public static func check(_ instrument: InstrumentConfiguration, manifests: [DriverManifest]) throws(LabvisorError) -> DriverManifest? {
        guard let id = instrument.simulate else { return nil }
        guard let manifest = manifests.first(where: { $0.id == id }) else {
            throw LabvisorError(
                .notFound, "instrument '\(instrument.name)' (simulate = \"\(id)\"): no driver manifest '\(id)' in the driver search path")
        }
        _ = try ReferenceDrivers.drivers.entry(id)
        switch manifest.transport {
        case .serial: _ = try ReferenceDrivers.simulators.entry(id)
        case .usb: _ = try ReferenceDrivers.usbSimulators.entry(id)
        }
        return manifest
    }

    /// Starts the simulator of `instrument` (which has `simulate`) and adds the instrument to
    /// the supervisor; its linger is its own, else `defaultLinger`.
    ///
    /// - Throws: as `check(_:manifests:)`; `unavailable` when the simulator cannot start (no PTY).
    public func add(_ instrument: InstrumentConfiguration, defaultLinger: Duration, manifests: [DriverManifest]) throws {
        guard let id = instrument.simulate, let manifest = try Self.check(instrument, manifests: manifests) else { return }
        let driver = try ReferenceDrivers.drivers.entry(id)
        let (supervisor, logger) = (self.supervisor, self.logger)
        let (name, kind, tags) = (instrument.name, manifest.kind.rawValue, instrument.tags)
        let linger = instrument.linger ?? defaultLinger
        guard case .serial(let transport) = manifest.transport else {
            guard case .usb(let settings) = manifest.transport else { return }
            // No umockdev testbed in the daemon: the device's model answers in-process,
            // behind the same USBDeviceIO interface libusb devices have.
            let simulation = try ReferenceDrivers.usbSimulators.entry(id).make()
            supervisor.add(ManagedInstrument(
                name: name, kind: kind, driver: driver, tags: tags, simulated: true, simulation: Self.inProcessUSB, linger: linger,
                events: supervisor.events, logger: logger,
                connect: { .usb(InProcessUSBDevice(descriptors: simulation.descriptors, behavior: simulation.behavior), settings) }))
            return
        }
        let simulator = try ReferenceDrivers.simulators.entry(id).start(reactor)
        let make: @Sendable (DeviceLink) -> ManagedInstrument = { link in
            ManagedInstrument(
                name: name, kind: kind, driver: driver, tags: tags, link: link, simulated: true,
                simulation: "in-process serial simulator on a PTY pair (\(link.location))", linger: linger,
                events: supervisor.events, logger: logger)
        }
        let replaced = running.withLock { running in
            defer { running[name] = Plugged(simulator: simulator, unplugged: false, transport: transport, instrument: make) }
            return running[name]?.simulator
        }
        replaced?.stop()
        supervisor.add(make(Self.link(simulator.path, transport: transport, reactor: reactor)))
    }

    /// Stops the simulator of `instrument`, if it has one here (call it once the supervisor has
    /// retired the instrument: its driver's safe-state shutdown still talks to the simulator).
    public func remove(_ instrument: String) {
        running.withLock { $0.removeValue(forKey: instrument) }?.simulator.stop()
    }

    /// Whether `instrument` runs against one of these simulators.
    public func contains(_ instrument: String) -> Bool { running.withLock { $0[instrument] != nil } }

    /// Pulls the simulated device out: its PTY hangs up (calls in progress see the hang-up
    /// through the serial code), and the instrument goes `gone`. Returns once its driver is down.
    ///
    /// - Throws: `notFound` when `instrument` is not simulated here; `unavailable` when it is
    ///   unplugged already, or an unplug or replug of it is under way.
    public func unplug(_ instrument: String) async throws(LabvisorError) {
        let simulator = try running.withLock { running throws(LabvisorError) -> any RunningSimulator in
            guard var entry = running[instrument] else { throw notSimulated(instrument, running.keys) }
            try Self.checkSettled(entry, instrument)
            guard !entry.unplugged else {
                throw LabvisorError(
                    .unavailable, "simulated instrument \(instrument) is unplugged already; replug it first",
                    fields: ["instrument": .string(instrument)])
            }
            entry.unplugged = true
            entry.changing = true
            running[instrument] = entry
            return entry.simulator
        }
        simulator.unplug()
        await supervisor.deviceGone(instrument, reason: "simulated device \(simulator.path) was unplugged")
        running.withLock { $0[instrument]?.changing = false }
    }

    /// Plugs the simulated device back in: a new simulator on a new PTY, with the device's
    /// state, re-attached to the same instrument within the grace period (after it, the
    /// instrument is added again, as discovery adds a device it sees anew).
    ///
    /// - Throws: `notFound` when `instrument` is not simulated here; `unavailable` when it is
    ///   plugged in, or an unplug or replug of it is under way.
    public func replug(_ instrument: String) async throws(LabvisorError) {
        let old = try running.withLock { running throws(LabvisorError) -> Plugged in
            guard var entry = running[instrument] else { throw notSimulated(instrument, running.keys) }
            try Self.checkSettled(entry, instrument)
            guard entry.unplugged else {
                throw LabvisorError(
                    .unavailable, "simulated instrument \(instrument) is plugged in; unplug it first",
                    fields: ["instrument": .string(instrument)])
            }
            entry.changing = true
            running[instrument] = entry
            return entry
        }
        let simulator: any RunningSimulator
        do {
            simulator = try old.simulator.replugged(on: reactor)
        } catch {
            running.withLock { $0[instrument]?.changing = false }
            throw error
        }
        var new = old
        new.simulator = simulator
        new.unplugged = false
        running.withLock { $0[instrument] = new }
        old.simulator.stop()
        let link = Self.link(simulator.path, transport: old.transport, reactor: reactor)
        do {
            try await supervisor.deviceReturned(instrument, link: link)
        } catch where error.code == .notFound {
            // Removed while unplugged (its grace period ended): it comes back as a new instrument.
            supervisor.add(old.instrument(link))
        }
        running.withLock { $0[instrument]?.changing = false }
    }

    /// Throws `unavailable` while an unplug or replug of `instrument` is under way.
    private static func checkSettled(_ entry: Plugged, _ instrument: String) throws(LabvisorError) {
        guard !entry.changing else {
            throw LabvisorError(
                .unavailable, "simulated instrument \(instrument) is being unplugged or replugged; try again when that has finished",
                fields: ["instrument": .string(instrument)])
        }
    }

    /// How a simulated USB instrument runs, as `daemon.status` says it.
    public static let inProcessUSB =
        "in-process USB simulator behind the USBDeviceIO interface (the daemon does not run under umockdev; bulk paced at USB 2.0 rate)"

    /// Stops every simulator.
    public func stop() {
        for simulator in simulators.values { simulator.stop() }
    }

    private static func link(_ path: String, transport: SerialTransport, reactor: IOReactor) -> DeviceLink {
        DeviceLink(location: path) { try DriverConnection.open(.serial(transport), node: path, reactor: reactor) }
    }

    private func notSimulated(_ instrument: String, _ names: Dictionary<String, Plugged>.Keys) -> LabvisorError {
        LabvisorError(
            .notFound,
            "instrument \(instrument) is not a simulated instrument of this daemon (simulated: \(names.sorted().joined(separator: ", ")))",
            fields: ["kind": "simulated instrument", "name": .string(instrument)])
    }
}
