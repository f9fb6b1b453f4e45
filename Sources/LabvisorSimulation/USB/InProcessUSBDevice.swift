import DequeModule
import LabvisorCore
import LabvisorHardware

/// A simulated USB device served in-process: the driver's `USBDeviceIO` calls go straight to
/// the device's model (`USBDeviceBehavior`) and descriptors, with no libusb and no umockdev
/// testbed. The daemon's demo uses it for USB instruments when it does not run under
/// umockdev (`SimulatedUSBDevice` is the path that exercises the real libusb code).
///
/// Control requests are answered by the model (GET_DESCRIPTOR from the descriptors); a STALL
/// is `driverFault` with `reason: "stall"`, as libusb reports it. Bulk streams read one
/// payload per request of `transferSize` bytes, paced at `bytesPerSecond` (a USB 2.0
/// high-speed bulk endpoint's practical rate by default), since a model answers at once.
public final class InProcessUSBDevice: USBDeviceIO {
    /// USB 2.0 high-speed bulk throughput in practice (~40 MB/s).
    public static let highSpeedBulkRate = 40_000_000

    public let info: USBDeviceInfo
    /// The descriptors it was made from.
    public let descriptors: SimulatedUSBDescriptors
    private let behavior: any USBDeviceBehavior
    private let bytesPerSecond: Int
    private let state = LockedState((claimed: Set<UInt8>(), closed: false, streams: [InProcessBulkStream]()))

    /// A device with `descriptors` answering through `behavior`.
    public init(descriptors: SimulatedUSBDescriptors, behavior: any USBDeviceBehavior, bytesPerSecond: Int = highSpeedBulkRate) {
        self.descriptors = descriptors
        self.behavior = behavior
        self.bytesPerSecond = bytesPerSecond
        info = descriptors.expectedInfo(bus: 0, address: 0, portPath: "in-process")
    }

    public func claim(interface: UInt8) throws(LabvisorError) {
        try checkOpen("claim interface \(interface)")
        guard info.configurations.first?.interfaces.contains(where: { $0.number == interface }) == true else {
            throw LabvisorError(.notFound, "USB device \(info.label) has no interface \(interface)", fields: ["interface": .int(Int(interface))])
        }
        _ = state.withLock { $0.claimed.insert(interface) }
    }

    public func setAlternateSetting(_ setting: UInt8, interface: UInt8) throws(LabvisorError) {
        try checkOpen("set alternate setting \(setting) of interface \(interface)")
        guard state.withLock({ $0.claimed.contains(interface) }) else {
            throw LabvisorError(.unavailable, "interface \(interface) of \(info.label) is not claimed", fields: ["interface": .int(Int(interface))])
        }
    }

    public func control(
        requestType: UInt8, request: UInt8, value: UInt16, index: UInt16, data: [UInt8], timeout: Duration
    ) async throws(LabvisorError) {
        let setup = USBControlSetup(requestType: requestType, request: request, value: value, index: index, length: UInt16(data.count))
        _ = try answer(setup, data: data)
    }

    public func control(
        requestType: UInt8, request: UInt8, value: UInt16, index: UInt16, length: UInt16, timeout: Duration
    ) async throws(LabvisorError) -> [UInt8] {
        let setup = USBControlSetup(requestType: requestType, request: request, value: value, index: index, length: length)
        return Array(try answer(setup, data: []).prefix(Int(length)))
    }

    public func strings(timeout: Duration) async throws(LabvisorError) -> USBDeviceStrings {
        try checkOpen("read the strings")
        return USBDeviceStrings(
            manufacturer: descriptors.manufacturer, product: descriptors.product, serialNumber: descriptors.serialNumber)
    }

    public func bulkStream(endpoint: UInt8, configuration: USBBulkStream.Configuration) throws(LabvisorError) -> any USBPayloadStream {
        try checkOpen("stream from endpoint \(endpoint)")
        let stream = InProcessBulkStream(
            behavior: behavior, endpoint: endpoint, configuration: configuration, bytesPerSecond: bytesPerSecond, device: info.label)
        state.withLock { $0.streams.append(stream) }
        return stream
    }

    public func close() async throws(LabvisorError) {
        let streams = state.withLock { state in
            state.closed = true
            state.claimed = []
            defer { state.streams = [] }
            return state.streams
        }
        for stream in streams { await stream.stop() }
    }

    private func checkOpen(_ operation: String) throws(LabvisorError) {
        if state.withLock({ $0.closed }) { throw LabvisorError.closed("USB device \(info.label) (\(operation))") }
    }

    private func answer(_ setup: USBControlSetup, data: [UInt8]) throws(LabvisorError) -> [UInt8] {
        try checkOpen("control request \(setup)")
        if setup.requestType == 0x80, setup.request == USBControlSetup.getDescriptor {
            let (type, index) = (UInt8(setup.value >> 8), UInt8(setup.value & 0xff))
            let descriptor: [UInt8]? =
                switch type {
                case 0x01: descriptors.deviceDescriptor
                case 0x02: descriptors.configurationDescriptor
                case 0x03: descriptors.stringDescriptor(index: index)
                default: nil
                }
            if let descriptor { return descriptor }
        }
        switch behavior.control(setup, data: data) {
        case .data(let bytes): return bytes
        case .accept: return []
        case .stall:
            throw LabvisorError(
                .driverFault, "USB device \(info.label) stalled control request \(setup)",
                fields: ["reason": "stall", "device": .string(info.label), "setup": .string("\(setup)")])
        }
    }
}

/// The bulk stream of an `InProcessUSBDevice`: a task asks the model for one payload per
/// request, paced at the bus rate, into a bounded buffer (the oldest payload is dropped and
/// counted when the reader falls behind).
final class InProcessBulkStream: USBPayloadStream {
    private struct State {
        var buffer: Deque<[UInt8]> = []
        var reader: WaitContinuation<[UInt8]?, any Error>?
        var ended = false
        var endError: LabvisorError?
        var dropped = 0
        var pump: Task<Void, Never>?
    }

    private let behavior: any USBDeviceBehavior
    private let endpoint: UInt8
    private let configuration: USBBulkStream.Configuration
    private let bytesPerSecond: Int
    private let device: String
    private let state = LockedState(State())

    init(behavior: any USBDeviceBehavior, endpoint: UInt8, configuration: USBBulkStream.Configuration, bytesPerSecond: Int, device: String) {
        self.behavior = behavior
        self.endpoint = endpoint
        self.configuration = configuration
        self.bytesPerSecond = max(1, bytesPerSecond)
        self.device = device
    }

    var dropped: Int { state.withLock { $0.dropped } }

    func start() throws(LabvisorError) {
        let task = Task { await self.pump() }
        state.withLock { $0.pump = task }
    }

    func next(timeout: Duration?) async throws(LabvisorError) -> [UInt8]? {
        let state = self.state
        let endpoint = self.endpoint
        do {
            return try await suspend(until: timeout.map { .now + $0 }) { (continuation: WaitContinuation<[UInt8]?, any Error>) in
                let ready: Result<[UInt8]?, LabvisorError>? = state.withLock { state in
                    if let payload = state.buffer.popFirst() { return .success(payload) }
                    if state.ended {
                        defer { state.endError = nil }
                        return state.endError.map { .failure($0) } ?? .success(nil)
                    }
                    state.reader = continuation
                    return nil
                }
                if let ready { continuation.resume(with: ready) }
            } expire: { end in
                state.withLock { state in
                    defer { state.reader = nil }
                    return state.reader
                }?.resume(
                    throwing: end == .deadline
                        ? LabvisorError(.timeout, "no payload from endpoint \(endpoint) in time", fields: ["endpoint": .int(Int(endpoint))])
                        : LabvisorError.cancelled("reading endpoint \(endpoint)"))
            }
        } catch let error as LabvisorError {
            throw error
        } catch {
            throw LabvisorError.cancelled("reading endpoint \(endpoint)")
        }
    }

    func stop() async {
        let task = state.withLock { $0.pump }
        task?.cancel()
        await task?.value
        end(nil)
    }

    private func end(_ error: LabvisorError?) {
        let reader = state.withLock { state -> WaitContinuation<[UInt8]?, any Error>? in
            guard !state.ended else { return nil }
            state.ended = true
            state.endError = error
            defer { state.reader = nil }
            guard state.reader != nil else { return nil }
            state.endError = nil
            return state.reader
        }
        if let error { reader?.resume(throwing: error) } else { reader?.resume(returning: nil) }
    }

    private func pump() async {
        var due = ContinuousClock.now
        let idle = Duration.milliseconds(5)
        while !Task.isCancelled {
            switch behavior.transferIn(endpoint: endpoint, maxLength: configuration.transferSize) {
            case .data(let payload) where !payload.isEmpty:
                let reader = state.withLock { state -> WaitContinuation<[UInt8]?, any Error>? in
                    if let reader = state.reader {
                        state.reader = nil
                        return reader
                    }
                    if state.buffer.count >= configuration.bufferLimit {
                        state.buffer.removeFirst()
                        state.dropped += 1
                    }
                    state.buffer.append(payload)
                    return nil
                }
                reader?.resume(returning: payload)
                due += .seconds(Double(payload.count) / Double(bytesPerSecond))
                if due < .now - .milliseconds(100) { due = .now }  // fell far behind: do not burst
            case .data:
                continue  // a zero-length packet ends a payload the previous request already held
            case .notReady:
                due = .now + idle  // the device has nothing (not streaming): ask again shortly
            case .stall:
                end(LabvisorError(
                    .driverFault, "USB device \(device) stalled endpoint \(endpoint)",
                    fields: ["reason": "stall", "device": .string(device), "endpoint": .int(Int(endpoint))]))
                return
            }
            do { try await Task.sleep(until: due, clock: .continuous) } catch { return }
        }
    }
}
