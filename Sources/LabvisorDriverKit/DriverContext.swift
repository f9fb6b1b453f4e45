/// The open transport a driver talks through, as its manifest asks.
public enum DriverConnection: Sendable {
    /// A serial port, opened with the manifest's settings.
    case serial(SerialPort, SerialTransport)
    /// A USB device (a libusb handle, or an in-process simulated device behind the same
    /// `USBDeviceIO` interface), opened with the manifest's settings; the driver claims the
    /// interfaces it needs (with `detachKernelDriver`, libusb detaches a kernel driver such as
    /// uvcvideo on claim and reattaches it on release).
    case usb(any USBDeviceIO, USBSettings)
    /// No transport: a built-in instrument (the daemon's loopback, for benchmarks and tests).
    case none
}

/// What a driver is opened with: its instrument's name and identity, the open transport,
/// a logger, where its events go, and its frame streams.
public struct DriverContext: Sendable {
    /// The instrument's name (`stage-x`), for messages and events.
    public let instrument: String
    /// The hardware identity discovery reported (`nil` for a simulated instrument).
    public let identity: DeviceIdentity?
    /// The transport, already open; the host closes it after `shutdown()`.
    public let connection: DriverConnection
    /// The driver's logger (labelled with the instrument).
    public let logger: Logger
    /// The instrument's data streams (camera frames), read by name by whoever hosts it.
    public let streams: FrameStreams
    private let events: (any EventSink)?

    /// Creates a context.
    public init(
        instrument: String, connection: DriverConnection, identity: DeviceIdentity? = nil, logger: Logger? = nil,
        events: (any EventSink)? = nil, streams: FrameStreams = FrameStreams()
    ) {
        self.instrument = instrument
        self.streams = streams
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

    /// The USB device and the manifest's USB settings, for a USB driver.
    ///
    /// - Throws: `driverFault` when the manifest's transport is not USB.
    public func usbDevice() throws(LabvisorError) -> (device: any USBDeviceIO, settings: USBSettings) {
        guard case .usb(let device, let settings) = connection else {
            throw LabvisorError(.driverFault, "instrument \(instrument): the driver needs a USB device but its transport is not usb")
        }
        return (device, settings)
    }

    /// The data stream `name` of this instrument (created on first use, keeping at most
    /// `capacity` frames for a slow consumer, then dropping the oldest and counting it).
    /// A driver publishes frames into it; the host reads it from `streams`.
    public func stream(named name: String, capacity: Int = 8) -> FrameStream {
        streams.stream(named: name, capacity: capacity)
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
    ///   `reason: busy`, ...); `unavailable` for a USB transport, which is opened from the
    ///   device's identity (`open(_:identity:usb:)`) or its bus and address.
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

    /// Opens a USB transport on the device discovery reported (matched by port path, then
    /// vendor, product and serial), with the manifest's `detach_kernel_driver` setting.
    ///
    /// - Throws: `invalidArgument` (argument `transport`) for a serial transport; the open
    ///   errors of `USBContext.open` (`notFound`, `permissionDenied`, `unavailable`).
    public static func open(
        _ transport: DriverTransport, identity: DeviceIdentity, usb context: USBContext
    ) throws(LabvisorError) -> DriverConnection {
        let settings = try usbSettings(transport, for: identity.portPath)
        return .usb(try context.open(identity, detachKernelDriver: settings.detachKernelDriver), settings)
    }

    /// Opens a USB transport on the device at `bus`/`address`.
    ///
    /// - Throws: as `open(_:identity:usb:)`.
    public static func open(
        _ transport: DriverTransport, bus: UInt8, address: UInt8, usb context: USBContext
    ) throws(LabvisorError) -> DriverConnection {
        let settings = try usbSettings(transport, for: "bus \(bus) address \(address)")
        return .usb(try context.open(bus: bus, address: address, detachKernelDriver: settings.detachKernelDriver), settings)
    }

    private static func usbSettings(_ transport: DriverTransport, for device: String) throws(LabvisorError) -> USBSettings {
        guard case .usb(let settings) = transport else {
            throw LabvisorError.invalidArgument("transport", "a serial transport cannot open the USB device \(device)")
        }
        return settings
    }

    /// Closes the transport (a USB device: cancels its transfers, bounded, and releases its
    /// interfaces). Errors are not reported: the transport is unusable afterwards either way.
    public func close() async {
        switch self {
        case .serial(let port, _): port.close()
        case .usb(let device, _): try? await device.close()
        case .none: break
        }
    }
}
