/// The open transport a driver talks through, as its manifest asks.
public enum DriverConnection: Sendable {
    /// A serial port, opened with the manifest's settings.
    case serial(SerialPort, SerialTransport)
    /// No transport: a built-in instrument (the daemon's loopback, for benchmarks and tests).
    case none
}

/// What a driver is opened with: its instrument's name and identity, the open transport,
/// a logger, and where its events go.
public struct DriverContext: Sendable {
    /// The instrument's name (`stage-x`), for messages and events.
    public let instrument: String
    /// The hardware identity discovery reported (`nil` for a simulated instrument).
    public let identity: DeviceIdentity?
    /// The transport, already open; the host closes it after `shutdown()`.
    public let connection: DriverConnection
    /// The driver's logger (labelled with the instrument).
    public let logger: Logger
    private let events: (any EventSink)?

    /// Creates a context.
    public init(
        instrument: String, connection: DriverConnection, identity: DeviceIdentity? = nil, logger: Logger? = nil,
        events: (any EventSink)? = nil
    ) {
        self.instrument = instrument
        self.identity = identity
        self.connection = connection
        var logger = logger ?? Logger(label: "labvisor.driver")
        logger[metadataKey: "instrument"] = "\(instrument)"
        self.logger = logger
        self.events = events
    }

    /// The serial port, for a serial driver.
    ///
    /// - Throws: `driverFault` when the manifest's transport is not serial.
    public func serialPort() throws(LabvisorError) -> SerialPort {
        guard case .serial(let port, _) = connection else {
            throw LabvisorError(.driverFault, "instrument \(instrument): the driver needs a serial port but its transport is not serial")
        }
        return port
    }

    /// A line channel on the serial port, with the manifest's line ending (or `lineEnding`).
    ///
    /// - Throws: as `serialPort()`.
    public func lineChannel(
        lineEnding: String? = nil, timeout: Duration = .seconds(1), isReply: @escaping @Sendable (String) -> Bool = { _ in true }
    ) throws(LabvisorError) -> LineChannel {
        guard case .serial(let port, let transport) = connection else {
            throw LabvisorError(.driverFault, "instrument \(instrument): the driver needs a serial port but its transport is not serial")
        }
        return LineChannel(
            port: port, lineEnding: lineEnding ?? transport.lineEnding ?? "\n", timeout: timeout, isReply: isReply)
    }

    /// Publishes a `propertyChanged` event (fields: property, value).
    public func publish(property: String, value: JSONValue) {
        events?.publish(
            Event(kind: .propertyChanged, instrument: instrument, fields: ["property": .string(property), "value": value]))
    }
}

extension DriverConnection {
    /// Opens the transport a manifest asks for on a device node.
    ///
    /// - Throws: the serial port's open errors (`notFound`, `unavailable` with
    ///   `reason: busy`, ...); `unavailable` for a USB transport, which drivers open
    ///   themselves from the identity.
    public static func open(
        _ transport: DriverTransport, node: String, reactor: IOReactor = .shared
    ) throws(LabvisorError) -> DriverConnection {
        switch transport {
        case .serial(let serial):
            return .serial(try SerialPort.open(node, settings: serial.settings, reactor: reactor), serial)
        case .usb:
            throw LabvisorError(
                .unavailable, "a USB transport is not opened from a device node (\(node))",
                fields: ["node": .string(node), "transport": "usb"])
        }
    }
}
