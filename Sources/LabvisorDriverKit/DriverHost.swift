/// Runs one driver: opens it, routes calls by name to its declared methods and properties
/// after checking the arguments, serialises them on the instrument's `CallQueue`, and shuts
/// it down to the safe state.
///
/// The driver is never re-entered: every call, including `shutdown()`, runs as a turn of the
/// call queue; an immediate method first interrupts the call in progress and waits for it to
/// end. After `shutdown(timeout:)` starts, calls fail with `closed` without reaching the
/// driver.
public final class DriverHost<Driver: InstrumentDriver>: HostedInstrument {
    public let instrument: String
    public let interface: InstrumentInterface
    public let identification: InstrumentIdentification
    /// The driver (for tests that look at it directly; calls should go through the host).
    public let driver: Driver
    /// The instrument's call queue.
    public let queue: CallQueue
    private let connection: DriverConnection
    /// The instrument's data streams (camera frames), by name; finished at shutdown.
    public let streams: FrameStreams
    private let methods: [String: DriverMethod<Driver>]
    private let properties: [String: DriverProperty<Driver>]
    private let shutdownStarted = LockedState(false)

    /// Opens `Driver` on `context` and identifies the device. On failure the transport is
    /// closed before the error is thrown.
    ///
    /// - Parameters:
    ///   - context: the open transport and the rest.
    ///   - events: where oneway outcomes go (property events go through the context).
    ///   - openTimeout: for opening and identifying.
    public static func open(
        _ context: DriverContext, events: (any EventSink)? = nil, openTimeout: Duration = .seconds(10)
    ) async throws -> DriverHost<Driver> {
        do {
            let (driver, identification) = try await Self.withTimeout(openTimeout, "opening \(context.instrument)") {
                let driver = try await Driver(context: context)
                return (driver, try await driver.identify())
            }
            return DriverHost(context: context, driver: driver, identification: identification, events: events)
        } catch {
            await context.connection.close()
            throw error
        }
    }

    /// Opens the transport `transport` on `node`, then the driver on it.
    ///
    /// - Parameters:
    ///   - instrument: the instrument's name.
    ///   - node: the device node (`/dev/ttyUSB0`, or a simulator's PTY).
    ///   - transport: the manifest's `[transport]`.
    ///   - identity: what discovery reported, if anything.
    ///   - events: where property changes and oneway outcomes go.
    public static func open(
        instrument: String, node: String, transport: DriverTransport, identity: DeviceIdentity? = nil,
        events: (any EventSink)? = nil, reactor: IOReactor = .shared, openTimeout: Duration = .seconds(10)
    ) async throws -> DriverHost<Driver> {
        let connection = try DriverConnection.open(transport, node: node, reactor: reactor)
        let context = DriverContext(instrument: instrument, connection: connection, identity: identity, events: events)
        return try await open(context, events: events, openTimeout: openTimeout)
    }

    /// Opens the USB device discovery reported (`transport` must be the manifest's usb
    /// transport), then the driver on it; frames it publishes go to `streams`.
    public static func open(
        instrument: String, identity: DeviceIdentity, transport: DriverTransport, usb: USBContext,
        events: (any EventSink)? = nil, streams: FrameStreams = FrameStreams(), openTimeout: Duration = .seconds(10)
    ) async throws -> DriverHost<Driver> {
        let connection = try DriverConnection.open(transport, identity: identity, usb: usb)
        let context = DriverContext(
            instrument: instrument, connection: connection, identity: identity, events: events, streams: streams)
        return try await open(context, events: events, openTimeout: openTimeout)
    }

    private init(
        context: DriverContext, driver: Driver, identification: InstrumentIdentification, events: (any EventSink)?
    ) {
        instrument = context.instrument
        interface = Driver.interface
        self.identification = identification
        self.driver = driver
        connection = context.connection
        streams = context.streams
        queue = CallQueue(instrument: context.instrument, events: events)
        methods = Dictionary(Driver.methods.map { ($0.schema.name, $0) }, uniquingKeysWith: { first, _ in first })
        properties = Dictionary(Driver.properties.map { ($0.schema.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    public func invoke(_ method: String, arguments: [String: JSONValue], timeout: Duration?) async throws -> JSONValue {
        let declared = try lookUp(method)
        let checked = try declared.check(arguments)
        let driver = self.driver
        return try await queue.perform(method, timeout: timeout, immediate: declared.schema.immediate) {
            try self.checkOpen(method)
            return try await declared.run(on: driver, checked)
        }
    }

    public func invokeOneway(_ method: String, arguments: [String: JSONValue], timeout: Duration?) throws -> UInt64 {
        let declared = try lookUp(method)
        let checked = try declared.check(arguments)
        let driver = self.driver
        return try queue.performOneway(method, timeout: timeout, immediate: declared.schema.immediate) {
            try self.checkOpen(method)
            return try await declared.run(on: driver, checked)
        }
    }

    public func read(_ property: String, timeout: Duration?) async throws -> JSONValue {
        let declared = try lookUpProperty(property)
        let driver = self.driver
        return try await queue.perform("get \(property)", timeout: timeout) {
            try self.checkOpen("get \(property)")
            return try await declared.read(from: driver)
        }
    }

    public func write(_ property: String, value: JSONValue, timeout: Duration?) async throws {
        let declared = try lookUpProperty(property)
        let checked = try declared.check(value)
        let driver = self.driver
        try await queue.perform("set \(property)", timeout: timeout) {
            try self.checkOpen("set \(property)")
            try await declared.store(checked, to: driver)
        }
    }

    public func deviceGone(_ reason: String) {
        queue.close(
            with: LabvisorError(
                .deviceGone, "instrument \(instrument) is gone: \(reason)",
                fields: ["instrument": .string(instrument), "reason": .string(reason)]))
    }

    public func shutdown(timeout: Duration) async throws {
        let first = shutdownStarted.withLock { started in
            defer { started = true }
            return !started
        }
        guard first else { return }
        let driver = self.driver
        let outcome: Result<Void, any Error>
        do {
            // An immediate turn: interrupts the call in progress and runs once it has ended.
            try await queue.perform("shutdown", timeout: timeout, immediate: true) {
                try await driver.shutdown()
            }
            outcome = .success(())
        } catch let error as LabvisorError where error.code == .deviceGone || error.code == .closed {
            // The queue was closed by an unplug: run the shutdown directly (nothing else runs).
            do {
                try await Self.withTimeout(timeout, "shutting down \(instrument)") { try await driver.shutdown() }
                outcome = .success(())
            } catch {
                outcome = .failure(error)
            }
        } catch {
            outcome = .failure(error)
        }
        queue.close(with: .closed("instrument \(instrument)"))
        await connection.close()
        streams.finishAll()
        try outcome.get()
    }

    // MARK: - Internals

    private func lookUp(_ method: String) throws(LabvisorError) -> DriverMethod<Driver> {
        guard let declared = methods[method] else {
            _ = try interface.method(method)  // throws `unknownMethod` naming the methods
            throw LabvisorError(.unknownMethod, "no method \(method)")
        }
        return declared
    }

    private func lookUpProperty(_ property: String) throws(LabvisorError) -> DriverProperty<Driver> {
        guard let declared = properties[property] else {
            _ = try interface.property(property)  // throws `notFound` naming the properties
            throw LabvisorError.notFound("property", property)
        }
        return declared
    }

    private func checkOpen(_ call: String) throws(LabvisorError) {
        if shutdownStarted.withLock({ $0 }) {
            throw LabvisorError.closed("instrument \(instrument) (shut down before \(call) ran)")
        }
    }

    /// Runs `body`, cancelling it past `timeout` (then `deadlineExceeded`).
    private static func withTimeout<Value: Sendable>(
        _ timeout: Duration, _ what: String, _ body: @escaping @Sendable () async throws -> Value
    ) async throws -> Value {
        let interruption = Interruption()
        let outcome = await withInterruption(interruption, deadline: .now + timeout, body)
        switch outcome.signal {
        case .completed: return try outcome.result.get()
        case .deadline:
            throw LabvisorError(
                .deadlineExceeded, "\(what) took longer than \(timeout.seconds) s",
                fields: ["timeoutSeconds": .double(timeout.seconds)])
        case .cancelled: throw CancellationError()
        case .interrupted(let why): throw LabvisorError(.unavailable, "\(what) was interrupted by \(why)")
        }
    }
}
