import LabvisorDriverTesting
import LabvisorCore
import LabvisorHardware
import LabvisorSimulation
import Testing

extension USBTests {
    /// Control, bulk and interrupt transfers through the real libusb code (async transfers on
    /// the context's event thread) against a `SimulatedUSBDevice`: round trips, stalls,
    /// timeouts, cancellation, unplug, shutdown. Re-runs itself under `umockdev-wrapper`.
    @Suite(.serialized) struct USBTransferTests {
        @Test func controlOutThenInRoundTrip() async throws {
            guard try await UmockdevReexec.runHere(suite: "USBTransferTests") else { return }
            let bench = try USBTestBench()
            let handle = try bench.open()
            let payload: [UInt8] = [0x10, 0x20, 0x30, 0x40, 0x55]
            try await handle.control(
                requestType: 0x40, request: LabBenchBehavior.storeRequest, value: 0x1234, index: 0, data: payload)
            let back = try await handle.control(
                requestType: 0xc0, request: LabBenchBehavior.loadRequest, value: 0, index: 0, length: 64)
            #expect(back == payload)
            let short = try await handle.control(
                requestType: 0xc0, request: LabBenchBehavior.loadRequest, value: 0, index: 0, length: 2)
            #expect(short == [0x10, 0x20])
            let seen = bench.device.controlRequests.filter { $0.requestType & 0x60 == 0x40 }
            #expect(seen.first == USBControlSetup(requestType: 0x40, request: 0x01, value: 0x1234, index: 0, length: 5))
            try await bench.shutdown()
        }

        @Test func unknownControlRequestStallsWithAClearError() async throws {
            guard try await UmockdevReexec.runHere(suite: "USBTransferTests") else { return }
            let bench = try USBTestBench()
            let handle = try bench.open()
            let stalled = await thrownError {
                try await handle.control(requestType: 0xc0, request: 0x7f, value: 1, index: 2, length: 8)
            }
            #expect(stalled?.code == .driverFault)
            #expect(stalled?.fields["reason"] == "stall")
            #expect(stalled?.fields["endpoint"] == "0x00")
            #expect(stalled?.message.contains("stalled") == true)
            #expect(stalled?.message.contains("1-5 (2939:0001)") == true)
            // The device still answers afterwards.
            try await handle.control(requestType: 0x40, request: LabBenchBehavior.storeRequest, value: 0, index: 0, data: [1])
            try await bench.shutdown()
        }

        @Test func bulkWriteThenReadEchoesAndInterruptReads() async throws {
            guard try await UmockdevReexec.runHere(suite: "USBTransferTests") else { return }
            let bench = try USBTestBench()
            let handle = try bench.open()
            let message = Array("*IDN?\n".utf8)
            #expect(try await handle.bulkWrite(endpoint: 0x01, data: message) == message.count)
            #expect(try await handle.bulkRead(endpoint: 0x81, length: 512) == message)
            let big = (0..<20_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
            try await handle.bulkWrite(endpoint: 0x01, data: big)
            #expect(try await handle.bulkRead(endpoint: 0x81, length: 32_768) == big)
            #expect(try await handle.interruptRead(endpoint: 0x84, length: 8) == [0xa5])
            let wrongWay = await thrownError { try await handle.bulkRead(endpoint: 0x01, length: 8) }
            #expect(wrongWay?.code == .invalidArgument)
            try await bench.shutdown()
        }

        @Test func bulkReadTimesOutAndTheDeviceStillWorks() async throws {
            guard try await UmockdevReexec.runHere(suite: "USBTransferTests") else { return }
            let bench = try USBTestBench()
            let handle = try bench.open()
            let start = ContinuousClock.now
            let timedOut = await thrownError {
                try await handle.bulkRead(endpoint: 0x82, length: 64, timeout: .milliseconds(100))
            }
            let elapsed = ContinuousClock.now - start
            #expect(timedOut?.code == .timeout)
            #expect(timedOut?.fields["endpoint"] == "0x82")
            #expect(timedOut?.fields["timeout_s"] == .double(0.1))
            #expect(elapsed >= .milliseconds(100) && elapsed < .seconds(1))
            #expect(handle.transfersInFlight == 0)
            try await handle.bulkWrite(endpoint: 0x01, data: [1, 2, 3])
            #expect(try await handle.bulkRead(endpoint: 0x81, length: 64) == [1, 2, 3])
            try await bench.shutdown()
        }

        @Test func cancellingTheTaskCancelsAPendingTransferQuickly() async throws {
            guard try await UmockdevReexec.runHere(suite: "USBTransferTests") else { return }
            let bench = try USBTestBench()
            let handle = try bench.open()
            let reader = try await startPendingRead(on: bench) {
                try await handle.bulkRead(endpoint: 0x82, length: 64, timeout: nil)
            }
            let (cancelled, after) = try await failure(of: reader) { reader.cancel() }
            #expect(after < .milliseconds(500))
            #expect(cancelled == LabvisorError.cancelled("bulk IN transfer on endpoint 0x82 of USB device 1-5 (2939:0001)"))
            #expect(bench.device.urbsDiscarded == 1)
            #expect(handle.transfersInFlight == 0)
            try await bench.shutdown()
        }

        @Test func unplugMidTransferGivesDeviceGonePromptly() async throws {
            guard try await UmockdevReexec.runHere(suite: "USBTransferTests") else { return }
            let bench = try USBTestBench()
            let handle = try bench.open()
            let reader = try await startPendingRead(on: bench) {
                try await handle.bulkRead(endpoint: 0x82, length: 64, timeout: nil)
            }
            let (gone, after) = try await failure(of: reader) { bench.device.unplug() }
            #expect(after < .milliseconds(500))
            #expect(gone?.code == .deviceGone)
            #expect(gone?.fields["device"] == "1-5 (2939:0001)")
            #expect(handle.isGone)
            let later = await thrownError { try await handle.bulkWrite(endpoint: 0x01, data: [1]) }
            #expect(later?.code == .deviceGone)
            try await bench.shutdown()
        }

        @Test func shutdownWithTransfersInFlightEndsThemWithClosed() async throws {
            guard try await UmockdevReexec.runHere(suite: "USBTransferTests") else { return }
            let bench = try USBTestBench()
            let handle = try bench.open()
            var readers: [Task<[UInt8], any Error>] = []
            for count in 1...3 {
                readers.append(
                    try await startPendingRead(on: bench, count: count) {
                        try await handle.bulkRead(endpoint: 0x82, length: 64, timeout: nil)
                    })
            }
            try await bench.shutdown()
            for reader in readers {
                let (closed, _) = try await failure(of: reader) {}
                #expect(closed?.code == .closed)
            }
            #expect(handle.isClosed)
            #expect(bench.device.claimedInterfaces.isEmpty)
        }
    }
}

/// Waits (at most `limit`) until `condition` holds.
func waitUntil(
    within limit: Duration = .seconds(2), sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () -> Bool
) async throws {
    let deadline = ContinuousClock.now + limit
    while !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("condition not met within \(limit)", sourceLocation: sourceLocation)
            throw LabvisorError(.timeout, "condition not met within \(limit)")
        }
        try await Task.sleep(for: .milliseconds(2))
    }
}
