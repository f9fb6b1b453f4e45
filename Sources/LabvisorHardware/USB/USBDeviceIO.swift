import LabvisorCore

/// What a USB driver does with an open device: its descriptors, claiming interfaces, control
/// transfers, its strings, and streaming reads from a bulk IN endpoint. `USBDevice` (libusb)
/// is the real one; an in-process simulator (`InProcessUSBDevice` in LabvisorSimulation)
/// answers the same calls from a simulated device's model when no umockdev testbed is there,
/// so a driver runs unchanged against either.
public protocol USBDeviceIO: AnyObject, Sendable {
    /// The descriptors as values.
    var info: USBDeviceInfo { get }

    /// Claims `interface` for this handle.
    func claim(interface: UInt8) throws(LabvisorError)

    /// Selects alternate setting `setting` of a claimed `interface`.
    func setAlternateSetting(_ setting: UInt8, interface: UInt8) throws(LabvisorError)

    /// A control transfer with a host-to-device data stage (or none).
    func control(
        requestType: UInt8, request: UInt8, value: UInt16, index: UInt16, data: [UInt8], timeout: Duration
    ) async throws(LabvisorError)

    /// A control transfer with a device-to-host data stage of up to `length` bytes.
    func control(
        requestType: UInt8, request: UInt8, value: UInt16, index: UInt16, length: UInt16, timeout: Duration
    ) async throws(LabvisorError) -> [UInt8]

    /// The manufacturer, product and serial number strings.
    func strings(timeout: Duration) async throws(LabvisorError) -> USBDeviceStrings

    /// A streaming read from bulk IN `endpoint` (not started).
    func bulkStream(endpoint: UInt8, configuration: USBBulkStream.Configuration) throws(LabvisorError) -> any USBPayloadStream

    /// Closes the device (cancels transfers in flight, bounded, releases interfaces).
    func close() async throws(LabvisorError)
}

/// A stream of payloads from a bulk IN endpoint (`USBBulkStream` is the libusb one): bounded,
/// dropping (and counting) the oldest payload when the reader falls behind.
public protocol USBPayloadStream: AnyObject, Sendable {
    /// Starts reading.
    func start() throws(LabvisorError)
    /// The next payload; `nil` after `stop()`. Throws the error that ended the stream.
    func next(timeout: Duration?) async throws(LabvisorError) -> [UInt8]?
    /// Stops reading (bounded); idempotent.
    func stop() async
    /// Payloads dropped because the reader was slower than the device.
    var dropped: Int { get }
}

extension USBDeviceIO {
    /// A control transfer with a host-to-device data stage, with a 1 s timeout.
    public func control(requestType: UInt8, request: UInt8, value: UInt16, index: UInt16, data: [UInt8] = []) async throws(LabvisorError) {
        try await control(requestType: requestType, request: request, value: value, index: index, data: data, timeout: .seconds(1))
    }

    /// A control transfer with a device-to-host data stage, with a 1 s timeout.
    public func control(requestType: UInt8, request: UInt8, value: UInt16, index: UInt16, length: UInt16) async throws(LabvisorError) -> [UInt8] {
        try await control(requestType: requestType, request: request, value: value, index: index, length: length, timeout: .seconds(1))
    }

    /// The strings, with a 1 s timeout.
    public func strings() async throws(LabvisorError) -> USBDeviceStrings {
        try await strings(timeout: .seconds(1))
    }
}

extension USBDevice: USBDeviceIO {
    public func bulkStream(endpoint: UInt8, configuration: USBBulkStream.Configuration) throws(LabvisorError) -> any USBPayloadStream {
        try USBBulkStream(device: self, endpoint: endpoint, configuration: configuration)
    }
}

extension USBBulkStream: USBPayloadStream {}
