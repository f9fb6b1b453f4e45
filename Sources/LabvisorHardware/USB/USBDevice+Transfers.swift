import CLibUSB
import LabvisorCore

/// The transfers of an open device, as async functions. Each one submits a libusb transfer
/// and suspends until its callback. Errors:
/// - `timeout` when the device did not answer within `timeout` (naming endpoint and time);
/// - `deviceGone` when the device was unplugged (also for every later call);
/// - `driverFault` with `reason: "stall"` when the device stalled the endpoint or request;
/// - `LabvisorError.cancelled` when the calling task was cancelled (the transfer is
///   cancelled in libusb and the call returns once libusb confirmed it);
/// - `closed` when the device was closed meanwhile; `invalidArgument` for an endpoint of
///   the wrong direction.
extension USBDevice {
    /// A control transfer with a host-to-device data stage (or none): bit 7 of `requestType`
    /// must be clear.
    public func control(
        requestType: UInt8, request: UInt8, value: UInt16, index: UInt16, data: [UInt8] = [],
        timeout: Duration = .seconds(1)
    ) async throws(LabvisorError) {
        guard requestType & 0x80 == 0 else {
            throw .invalidArgument("requestType", "\(USBControlSetup.hex(requestType)) is device-to-host; pass length:")
        }
        guard data.count <= Int(UInt16.max) else { throw .invalidArgument("data", "longer than 65535 bytes") }
        let setup = USBControlSetup(
            requestType: requestType, request: request, value: value, index: index, length: UInt16(data.count))
        _ = try await runControl(setup, data: data, timeout: timeout)
    }

    /// A control transfer with a device-to-host data stage of up to `length` bytes: bit 7 of
    /// `requestType` must be set. Returns the bytes the device sent.
    public func control(
        requestType: UInt8, request: UInt8, value: UInt16, index: UInt16, length: UInt16,
        timeout: Duration = .seconds(1)
    ) async throws(LabvisorError) -> [UInt8] {
        guard requestType & 0x80 != 0 else {
            throw .invalidArgument("requestType", "\(USBControlSetup.hex(requestType)) is host-to-device; pass data:")
        }
        let setup = USBControlSetup(requestType: requestType, request: request, value: value, index: index, length: length)
        return try await runControl(setup, data: [], timeout: timeout)
    }

    /// Reads up to `length` bytes from bulk IN endpoint `endpoint` (0x81, ...).
    public func bulkRead(endpoint: UInt8, length: Int, timeout: Duration? = .seconds(1)) async throws(LabvisorError) -> [UInt8] {
        try await read(.bulk, endpoint: endpoint, length: length, timeout: timeout)
    }

    /// Writes `data` to bulk OUT endpoint `endpoint` (0x01, ...); returns the bytes sent.
    @discardableResult
    public func bulkWrite(endpoint: UInt8, data: [UInt8], timeout: Duration? = .seconds(1)) async throws(LabvisorError) -> Int {
        try await write(.bulk, endpoint: endpoint, data: data, timeout: timeout)
    }

    /// Reads up to `length` bytes from interrupt IN endpoint `endpoint`.
    public func interruptRead(endpoint: UInt8, length: Int, timeout: Duration? = .seconds(1)) async throws(LabvisorError) -> [UInt8] {
        try await read(.interrupt, endpoint: endpoint, length: length, timeout: timeout)
    }

    /// Writes `data` to interrupt OUT endpoint `endpoint`; returns the bytes sent.
    @discardableResult
    public func interruptWrite(endpoint: UInt8, data: [UInt8], timeout: Duration? = .seconds(1)) async throws(LabvisorError) -> Int {
        try await write(.interrupt, endpoint: endpoint, data: data, timeout: timeout)
    }

    /// The manufacturer, product and serial number strings (GET_DESCRIPTOR requests in the
    /// device's first language). A string the device does not answer is `nil`.
    /// - Throws: `deviceGone`, `closed`, `LabvisorError.cancelled`.
    public func strings(timeout: Duration = .seconds(1)) async throws(LabvisorError) -> USBDeviceStrings {
        let indexes = [info.manufacturerIndex, info.productIndex, info.serialNumberIndex]
        guard indexes.contains(where: { $0 != 0 }) else { return USBDeviceStrings() }
        let languages = try await stringDescriptor(index: 0, language: 0, timeout: timeout)
        guard let languages, languages.count >= 4 else { return USBDeviceStrings() }
        let language = UInt16(languages[2]) | UInt16(languages[3]) << 8
        var strings: [String?] = []
        for index in indexes {
            guard index != 0, let descriptor = try await stringDescriptor(index: index, language: language, timeout: timeout)
            else {
                strings.append(nil)
                continue
            }
            let units = stride(from: 2, to: descriptor.count - 1, by: 2).map {
                UInt16(descriptor[$0]) | UInt16(descriptor[$0 + 1]) << 8
            }
            strings.append(String(decoding: units, as: UTF16.self))
        }
        return USBDeviceStrings(manufacturer: strings[0], product: strings[1], serialNumber: strings[2])
    }

    /// A string descriptor's bytes (length and type included), `nil` when stalled or malformed.
    private func stringDescriptor(index: UInt8, language: UInt16, timeout: Duration) async throws(LabvisorError) -> [UInt8]? {
        do {
            let bytes = try await control(
                requestType: 0x80, request: USBControlSetup.getDescriptor, value: 0x0300 | UInt16(index), index: language,
                length: 255, timeout: timeout)
            guard bytes.count >= 2, bytes[1] == 0x03 else { return nil }
            return Array(bytes.prefix(Int(bytes[0])))
        } catch where error.code == .driverFault || error.code == .timeout {
            return nil
        }
    }

    private func runControl(_ setup: USBControlSetup, data: [UInt8], timeout: Duration) async throws(LabvisorError) -> [UInt8] {
        let description = USBTransferDescription(
            kind: "control \(setup.direction == .in ? "IN" : "OUT")", endpoint: 0, device: info, timeout: timeout,
            setup: setup)
        let transfer = try USBTransfer.control(
            context: context, handle: handle, setup: setup, data: data, timeout: timeout, description: description)
        let count = try await perform(transfer)
        return setup.direction == .in ? transfer.payload(count: count) : []
    }

    private func read(_ type: USBTransferType, endpoint: UInt8, length: Int, timeout: Duration?) async throws(LabvisorError) -> [UInt8] {
        guard USBDirection(endpointAddress: endpoint) == .in else {
            throw .invalidArgument("endpoint", "\(USBControlSetup.hex(endpoint)) is an OUT endpoint; reads need an IN endpoint (0x8n)")
        }
        guard length > 0, length <= Int(Int32.max) else { throw .invalidArgument("length", "must be 1...\(Int32.max), got \(length)") }
        let transfer = try USBTransfer.data(
            context: context, handle: handle, type: type, endpoint: endpoint, length: length, data: [], timeout: timeout,
            description: USBTransferDescription(kind: "\(type.rawValue) IN", endpoint: endpoint, device: info, timeout: timeout))
        let count = try await perform(transfer)
        return transfer.payload(count: count)
    }

    private func write(_ type: USBTransferType, endpoint: UInt8, data: [UInt8], timeout: Duration?) async throws(LabvisorError) -> Int {
        guard USBDirection(endpointAddress: endpoint) == .out else {
            throw .invalidArgument("endpoint", "\(USBControlSetup.hex(endpoint)) is an IN endpoint; writes need an OUT endpoint")
        }
        let transfer = try USBTransfer.data(
            context: context, handle: handle, type: type, endpoint: endpoint, length: data.count, data: data, timeout: timeout,
            description: USBTransferDescription(kind: "\(type.rawValue) OUT", endpoint: endpoint, device: info, timeout: timeout))
        return try await perform(transfer)
    }
}
