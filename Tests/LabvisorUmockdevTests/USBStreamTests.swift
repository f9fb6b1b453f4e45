import LabvisorDriverTesting
import LabvisorCore
import LabvisorHardware
import LabvisorSimulation
import Testing

extension USBTests {
    /// `USBBulkStream` (several bulk IN transfers in flight, payloads in order, bounded buffer)
    /// through the real libusb code against a `SimulatedUSBDevice`. Re-runs itself under
    /// `umockdev-wrapper`.
    @Suite(.serialized) struct USBStreamTests {
        @Test func hundredPayloadsWithFourInFlightArriveByteExactInOrder() async throws {
            guard try await UmockdevReexec.runHere(suite: "USBStreamTests") else { return }
            let bench = try USBTestBench(streamPayloadLength: 16_384, streamLimit: 100)
            let handle = try bench.open()
            let stream = try USBBulkStream(
                device: handle, endpoint: 0x83,
                configuration: .init(transferSize: 16_384, transfersInFlight: 4, bufferLimit: 128))
            try stream.start()
            for number in 0..<100 {
                let payload = try #require(try await stream.next(timeout: .seconds(2)))
                #expect(payload == USBPatternStreamBehavior.expectedPayload(number, length: 16_384), "payload \(number)")
            }
            #expect(stream.dropped == 0)
            #expect(stream.delivered == 100)
            let afterLast = await thrownError { try await stream.next(timeout: .milliseconds(50)) }
            #expect(afterLast?.code == .timeout)
            #expect(bench.device.pendingInRequests == 4)  // the four transfers wait for more
            await stream.stop()
            #expect(try await stream.next(timeout: .seconds(1)) == nil)
            #expect(handle.transfersInFlight == 0)
            #expect(bench.device.urbsDiscarded == 4)
            try await bench.shutdown()
        }

        @Test func slowReaderLosesTheOldestPayloadsAndTheyAreCounted() async throws {
            guard try await UmockdevReexec.runHere(suite: "USBStreamTests") else { return }
            let bench = try USBTestBench(streamPayloadLength: 512, streamLimit: 50)
            let handle = try bench.open()
            let stream = try USBBulkStream(
                device: handle, endpoint: 0x83, configuration: .init(transferSize: 512, transfersInFlight: 4, bufferLimit: 8))
            try stream.start()
            try await waitUntil { stream.dropped == 42 }
            for number in 42..<50 {
                #expect(try await stream.next(timeout: .seconds(1)) == USBPatternStreamBehavior.expectedPayload(number, length: 512))
            }
            #expect(stream.dropped == 42)
            await stream.stop()
            try await bench.shutdown()
        }

        @Test func streamIsAnAsyncSequence() async throws {
            guard try await UmockdevReexec.runHere(suite: "USBStreamTests") else { return }
            let bench = try USBTestBench(streamPayloadLength: 1024, streamLimit: 20)
            let handle = try bench.open()
            let stream = try USBBulkStream(
                device: handle, endpoint: 0x83, configuration: .init(transferSize: 1024, transfersInFlight: 2, bufferLimit: 32))
            try stream.start()
            let received = try await bounded(.seconds(5)) {
                var received: [[UInt8]] = []
                for try await payload in stream {
                    received.append(payload)
                    if received.count == 20 { break }
                }
                return received
            }
            #expect(received == (0..<20).map { USBPatternStreamBehavior.expectedPayload($0, length: 1024) })
            await stream.stop()
            try await bench.shutdown()
        }

        @Test func unplugEndsTheStreamWithDeviceGone() async throws {
            guard try await UmockdevReexec.runHere(suite: "USBStreamTests") else { return }
            let bench = try USBTestBench()
            let handle = try bench.open()
            let stream = try USBBulkStream(
                device: handle, endpoint: 0x82, configuration: .init(transferSize: 4096, transfersInFlight: 4))
            try stream.start()
            try await waitUntil { bench.device.pendingInRequests == 4 }
            let reader = Task { try await stream.next(timeout: .seconds(5)) }
            let (gone, after) = try await failure(of: reader) { bench.device.unplug() }
            #expect(after < .milliseconds(500))
            #expect(gone?.code == .deviceGone)
            #expect(try await stream.next(timeout: .seconds(1)) == nil)
            try await bounded(.seconds(3)) { await stream.stop() }
            #expect(handle.transfersInFlight == 0)
            try await bench.shutdown()
        }

        @Test func stopCancelsTheTransfersAndTheReaderGetsNil() async throws {
            guard try await UmockdevReexec.runHere(suite: "USBStreamTests") else { return }
            let bench = try USBTestBench()
            let handle = try bench.open()
            let stream = try USBBulkStream(
                device: handle, endpoint: 0x82, configuration: .init(transferSize: 4096, transfersInFlight: 6))
            try stream.start()
            try await waitUntil { bench.device.pendingInRequests == 6 }
            let reader = Task { try await stream.next() }
            try await waitUntil { bench.device.urbsSubmitted >= 6 }
            try await bounded(.seconds(3)) { await stream.stop() }
            let value = try await bounded(.seconds(1)) { try await reader.value }
            #expect(value == nil)
            #expect(handle.transfersInFlight == 0)
            #expect(bench.device.urbsDiscarded == 6)
            let again = await thrownError { try stream.start() }
            #expect(again?.code == .closed)
            try await bench.shutdown()
        }
    }
}
