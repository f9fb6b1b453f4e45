import CUSBDevFS
import Glibc
import LabvisorCore
import LabvisorDriverTesting
import LabvisorHardware
import LabvisorSimulation
import Testing

/// A device side whose payloads span several URBs, as a camera's do: bulk IN 0x83 is a byte
/// stream cut into payloads of `payloadLength` bytes; each IN request gets the next bytes of
/// the current payload, and a payload's end is a short packet. Payload `n`, byte `i`:
/// `(n * 101 + i) mod 256`.
final class SpanningPayloadBehavior: USBDeviceBehavior {
    let payloadLength: Int
    /// Payloads begun, and bytes of the current one sent.
    private let position = LockedState((payload: 0, offset: 0))

    init(payloadLength: Int) { self.payloadLength = payloadLength }

    /// Payload `number`, byte for byte.
    func payload(_ number: Int) -> [UInt8] {
        (0..<payloadLength).map { UInt8(truncatingIfNeeded: number &* 101 &+ $0) }
    }

    func transferIn(endpoint: UInt8, maxLength: Int) -> USBInReply {
        guard endpoint == 0x83 else { return .notReady }
        let (number, start, count): (Int, Int, Int) = position.withLock { position in
            let count = min(maxLength, payloadLength - position.offset)
            defer {
                position.offset += count
                if position.offset == payloadLength { position = (position.payload + 1, 0) }
            }
            return (position.payload, position.offset, count)
        }
        return .data(Array(payload(number)[start..<(start + count)]))
    }
}

extension USBTests.USBTransferTests {
    /// A device with `SpanningPayloadBehavior` and a host without libusb on its node.
    private static func spanningBench(payloadLength: Int) throws -> (UmockdevTestbed, SimulatedUSBDevice, SpanningPayloadBehavior, RawURBHost) {
        #expect(cusbdevfs_classify(RawURBHost.submitRequest) == CUSBDEVFS_SUBMITURB)
        #expect(cusbdevfs_classify(RawURBHost.reapWithoutDelayRequest) == CUSBDEVFS_REAPURBNDELAY)
        let testbed = try UmockdevTestbed()
        let behavior = SpanningPayloadBehavior(payloadLength: payloadLength)
        let device = try SimulatedUSBDevice(
            testbed: testbed, descriptors: USBTestBench.descriptors, behavior: behavior, bus: 1, address: 5, port: 5)
        return (testbed, device, behavior, try RawURBHost(node: device.deviceNode))
    }

    /// Two transfers of three 16 KiB URBs each (A, B), submitted interleaved as two threads may:
    /// A's URBs get payload 0 and B's payload 1, and A completes first.
    @Test func interleavedTransfersGetTheDataTransferByTransfer() async throws {
        guard try await UmockdevReexec.runHere(suite: "USBTransferTests") else { return }
        // 40,000 bytes: 16,384 + 16,384 + 7,232, the last URB short.
        let (testbed, device, behavior, host) = try Self.spanningBench(payloadLength: 40_000)
        let urb = 16_384
        try host.submitIn("A1", endpoint: 0x83, length: urb, transfer: 0xa, first: true, last: false)
        try host.submitIn("B1", endpoint: 0x83, length: urb, transfer: 0xb, first: true, last: false)
        try host.submitIn("A2", endpoint: 0x83, length: urb, transfer: 0xa, first: false, last: false)
        try host.submitIn("B2", endpoint: 0x83, length: urb, transfer: 0xb, first: false, last: false)
        try host.submitIn("B3", endpoint: 0x83, length: urb, transfer: 0xb, first: false, last: true)
        try host.submitIn("A3", endpoint: 0x83, length: urb, transfer: 0xa, first: false, last: true)
        let reaped = try host.reapCompleted()
        #expect(reaped.map(\.label) == ["A1", "A2", "A3", "B1", "B2", "B3"])
        #expect(reaped.allSatisfy { $0.status == 0 }, "a short last URB is no error")
        // Compared as Bools: an #expect on two 40 KB arrays that differ prints their difference slowly.
        let holdsPayload0 = reaped.prefix(3).flatMap(\.bytes) == behavior.payload(0)
        let holdsPayload1 = reaped.suffix(3).flatMap(\.bytes) == behavior.payload(1)
        #expect(holdsPayload0, "A's URBs hold payload 0")
        #expect(holdsPayload1, "B's URBs hold payload 1")
        #expect(device.pendingInRequests == 0)
        withExtendedLifetime(testbed) {}
    }

    /// A transfer answered short before its last URB (A2) completes only once the host has
    /// submitted the rest (A3, which completes without data): until then the next transfer (B)
    /// gets nothing, so the host cannot complete B before A.
    @Test func aTransferEndedShortCompletesBeforeTheNextGetsData() async throws {
        guard try await UmockdevReexec.runHere(suite: "USBTransferTests") else { return }
        // 20,000 bytes: 16,384 + 3,616.
        let (testbed, device, behavior, host) = try Self.spanningBench(payloadLength: 20_000)
        let urb = 16_384
        try host.submitIn("A1", endpoint: 0x83, length: urb, transfer: 0xa, first: true, last: false)
        try host.submitIn("B1", endpoint: 0x83, length: urb, transfer: 0xb, first: true, last: false)
        try host.submitIn("A2", endpoint: 0x83, length: urb, transfer: 0xa, first: false, last: false)
        try host.submitIn("B2", endpoint: 0x83, length: urb, transfer: 0xb, first: false, last: false)
        try host.submitIn("B3", endpoint: 0x83, length: urb, transfer: 0xb, first: false, last: true)
        let first = try host.reapCompleted()
        #expect(first.map(\.label) == ["A1", "A2"])
        #expect(first.map(\.status) == [0, -EREMOTEIO], "A2 is short although SHORT_NOT_OK")
        let holdsPayload0 = first.flatMap(\.bytes) == behavior.payload(0)
        #expect(holdsPayload0, "A's URBs hold payload 0")
        #expect(device.pendingInRequests == 3, "B waits for A's last URB")
        try host.submitIn("A3", endpoint: 0x83, length: urb, transfer: 0xa, first: false, last: true)
        let second = try host.reapCompleted()
        #expect(second.map(\.label) == ["A3", "B1", "B2", "B3"])
        #expect(second.map(\.status) == [-EREMOTEIO, 0, -EREMOTEIO, -EREMOTEIO])
        #expect(second.first?.bytes == [])
        let holdsPayload1 = second.dropFirst().flatMap(\.bytes) == behavior.payload(1)
        #expect(holdsPayload1, "B's URBs hold payload 1")
        #expect(device.pendingInRequests == 0)
        withExtendedLifetime(testbed) {}
    }
}
