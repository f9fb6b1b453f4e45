import LabvisorCore
import LabvisorHardware
import LabvisorSimulation
import Testing

/// The simulated instrument of the USB tests, with one job per endpoint:
/// - control: vendor OUT request 0x01 stores its data stage, vendor IN request 0x02 returns
///   it; everything else stalls;
/// - bulk OUT 0x01 queues what it gets, bulk IN 0x81 returns it (an echo);
/// - bulk IN 0x82 never answers (timeouts, cancellation, unplug);
/// - bulk IN 0x83 streams numbered payloads (`USBPatternStreamBehavior`);
/// - interrupt IN 0x84 returns one status byte, 0xa5.
final class LabBenchBehavior: USBDeviceBehavior {
    static let storeRequest: UInt8 = 0x01
    static let loadRequest: UInt8 = 0x02

    private let register = LockedState<[UInt8]>([])
    private let echo = LockedState<[[UInt8]]>([])
    let stream: USBPatternStreamBehavior

    init(streamPayloadLength: Int = 4096, streamLimit: Int? = nil) {
        stream = USBPatternStreamBehavior(endpoint: 0x83, payloadLength: streamPayloadLength, limit: streamLimit)
    }

    func control(_ setup: USBControlSetup, data: [UInt8]) -> USBControlReply {
        switch (setup.requestType, setup.request) {
        case (0x40, Self.storeRequest):
            register.withLock { $0 = data }
            return .accept
        case (0xc0, Self.loadRequest):
            return .data(register.withLock { $0 })
        default:
            return .stall
        }
    }

    func transferOut(endpoint: UInt8, data: [UInt8]) -> USBOutReply {
        guard endpoint == 0x01 else { return .stall }
        echo.withLock { $0.append(data) }
        return .accept
    }

    func transferIn(endpoint: UInt8, maxLength: Int) -> USBInReply {
        switch endpoint {
        case 0x81:
            guard let next = echo.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) else { return .notReady }
            return .data(next)
        case 0x83:
            return stream.transferIn(endpoint: endpoint, maxLength: maxLength)
        case 0x84:
            return .data([0xa5])
        default:
            return .notReady
        }
    }
}

/// A testbed with the lab-bench device plugged in and a libusb context of its own.
final class USBTestBench {
    static let descriptors = SimulatedUSBDescriptors(
        vendorID: 0x2939, productID: 0x0001, deviceVersion: 0x0102, manufacturer: "Example Corp", product: "Fake Meter",
        serialNumber: "INST-0001",
        configuration: USBConfigurationInfo(
            value: 1, attributes: 0xc0, maxPower: 50,
            interfaces: [
                USBInterfaceInfo(
                    number: 0,
                    alternateSettings: [
                        USBAlternateSetting(
                            interfaceNumber: 0, alternateSetting: 0, interfaceClass: 0xff,
                            endpoints: [
                                USBEndpointInfo(address: 0x01, transferType: .bulk, maxPacketSize: 512),
                                USBEndpointInfo(address: 0x81, transferType: .bulk, maxPacketSize: 512),
                                USBEndpointInfo(address: 0x82, transferType: .bulk, maxPacketSize: 512),
                                USBEndpointInfo(address: 0x83, transferType: .bulk, maxPacketSize: 512),
                                USBEndpointInfo(address: 0x84, transferType: .interrupt, maxPacketSize: 8, interval: 4),
                            ]),
                        USBAlternateSetting(
                            interfaceNumber: 0, alternateSetting: 1, interfaceClass: 0xff,
                            endpoints: [USBEndpointInfo(address: 0x83, transferType: .bulk, maxPacketSize: 512)]),
                    ]),
                USBInterfaceInfo(
                    number: 1,
                    alternateSettings: [
                        USBAlternateSetting(
                            interfaceNumber: 1, interfaceClass: 0x03, interfaceSubclass: 0, interfaceProtocol: 0,
                            endpoints: [USBEndpointInfo(address: 0x85, transferType: .interrupt, maxPacketSize: 8, interval: 10)])
                    ]),
            ]))

    let testbed: UmockdevTestbed
    let behavior: LabBenchBehavior
    let device: SimulatedUSBDevice
    let context: USBContext

    init(streamPayloadLength: Int = 4096, streamLimit: Int? = nil) throws {
        testbed = try UmockdevTestbed()
        behavior = LabBenchBehavior(streamPayloadLength: streamPayloadLength, streamLimit: streamLimit)
        device = try SimulatedUSBDevice(
            testbed: testbed, descriptors: Self.descriptors, behavior: behavior, bus: 1, address: 5, port: 5,
            kernelDrivers: [1: "usbhid"])
        context = try USBContext()
    }

    /// Opens the device and claims interface 0.
    func open(detachKernelDriver: Bool = false) throws -> USBDevice {
        let handle = try context.open(bus: 1, address: 5, detachKernelDriver: detachKernelDriver)
        try handle.claim(interface: 0)
        return handle
    }

    /// Shuts the context down (closing what is still open), bounded.
    func shutdown() async throws {
        try await bounded(.seconds(5)) { [context] in await context.shutdown() }
    }
}

/// Runs `body`, failing the test (and throwing) when it takes longer than `limit`.
func bounded<T: Sendable>(
    _ limit: Duration, sourceLocation: SourceLocation = #_sourceLocation, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try? await Task.sleep(for: limit)
            return nil
        }
        guard let first = try await group.next(), let value = first else {
            group.cancelAll()
            Issue.record("did not finish within \(limit)", sourceLocation: sourceLocation)
            throw LabvisorError(.timeout, "test step did not finish within \(limit)")
        }
        group.cancelAll()
        return value
    }
}


/// Starts `read` in a task and waits until the device holds `count` IN requests waiting
/// for data (so the read is really in flight).
func startPendingRead<T: Sendable>(
    on bench: USBTestBench, count: Int = 1, _ read: @escaping @Sendable () async throws -> T
) async throws -> Task<T, any Error> {
    let task = Task { try await read() }
    try await waitUntil { bench.device.pendingInRequests >= count }
    return task
}

/// Runs `action`, then waits (at most 2 s) for `task` to fail: its error and how long after
/// `action` it came. A task that succeeds is a failed expectation.
func failure<T: Sendable>(
    of task: Task<T, any Error>, after action: () async -> Void, sourceLocation: SourceLocation = #_sourceLocation
) async throws -> (error: LabvisorError?, after: Duration) {
    let start = ContinuousClock.now
    await action()
    let result = try await bounded(.seconds(2), sourceLocation: sourceLocation) { await task.result }
    let elapsed = ContinuousClock.now - start
    guard case .failure(let failure) = result, let error = failure as? LabvisorError else {
        Issue.record("expected a LabvisorError, got \(result)", sourceLocation: sourceLocation)
        return (nil, elapsed)
    }
    return (error, elapsed)
}
