import CLibUSB
import DequeModule
import LabvisorCore

/// A streaming read from a bulk IN endpoint, as a camera needs: several transfers are kept
/// in flight (each one resubmitted as soon as it completed), and the payloads come out in
/// submission order, through `next(timeout:)` or as an `AsyncSequence`.
///
/// Memory is bounded: at most `bufferLimit` payloads wait for the reader. When the reader is
/// slower than the device the oldest waiting payload is dropped and `dropped` counts it;
/// nothing is dropped silently.
///
/// The stream ends with `stop()` (the reader then gets `nil`), or with an error that the
/// reader gets after the payloads before it: `deviceGone` when the device is unplugged,
/// `closed` when the device is closed, `driverFault` when the endpoint stalls. Call `stop()`
/// in every case: it cancels the transfers still in flight and waits (bounded) for their
/// callbacks. A stream that is never stopped keeps its transfers, and itself, alive.
public final class USBBulkStream: AsyncSequence, Sendable {
    /// One payload: the bytes of one completed transfer.
    public typealias Element = [UInt8]

    /// The shape of a stream.
    public struct Configuration: Sendable, Hashable {
        /// Bytes per transfer (a camera: a frame or a part of one).
        public var transferSize: Int
        /// Transfers kept in flight (1...64).
        public var transfersInFlight: Int
        /// Payloads kept for a slow reader before the oldest is dropped.
        public var bufferLimit: Int

        /// Creates a configuration.
        public init(transferSize: Int, transfersInFlight: Int = 4, bufferLimit: Int = 64) {
            self.transferSize = transferSize
            self.transfersInFlight = transfersInFlight
            self.bufferLimit = bufferLimit
        }
    }

    private enum Phase {
        case idle, running, stopping, ended
    }

    private struct State {
        var phase = Phase.idle
        var inFlight = 0
        var nextSequence: UInt64 = 0
        var nextDelivery: UInt64 = 0
        /// Completions that came before an earlier one (kept until it comes).
        var early: [UInt64: Result<[UInt8], LabvisorError>] = [:]
        var buffer: Deque<[UInt8]> = []
        var endError: LabvisorError?
        var endErrorDelivered = false
        var dropped = 0
        var delivered = 0
        var reader: WaitContinuation<[UInt8]?, any Error>?
        var stopWaiter: WaitContinuation<Void, any Error>?
    }

    /// The device it reads from.
    public let device: USBDevice
    /// The bulk IN endpoint.
    public let endpoint: UInt8
    /// Its configuration.
    public let configuration: Configuration
    private let transfers: [USBTransfer]
    private let state = LockedState(State())

    /// How long `stop()` waits for cancelled transfers to call back.
    public static let stopLimit: Duration = .seconds(2)

    /// Prepares a stream (nothing is submitted before `start()`).
    /// - Throws: `invalidArgument` for an OUT endpoint or an out-of-range configuration.
    public init(device: USBDevice, endpoint: UInt8, configuration: Configuration) throws(LabvisorError) {
        guard USBDirection(endpointAddress: endpoint) == .in else {
            throw .invalidArgument("endpoint", "\(USBControlSetup.hex(endpoint)) is an OUT endpoint; streams read IN endpoints")
        }
        guard (1...64).contains(configuration.transfersInFlight) else {
            throw .invalidArgument("transfersInFlight", "must be 1...64, got \(configuration.transfersInFlight)")
        }
        guard configuration.transferSize > 0, configuration.transferSize <= 64 << 20 else {
            throw .invalidArgument("transferSize", "must be 1 byte...64 MiB, got \(configuration.transferSize)")
        }
        guard configuration.bufferLimit > 0 else {
            throw .invalidArgument("bufferLimit", "must be at least 1, got \(configuration.bufferLimit)")
        }
        self.device = device
        self.endpoint = endpoint
        self.configuration = configuration
        let description = USBTransferDescription(kind: "bulk IN stream", endpoint: endpoint, device: device.info, timeout: nil)
        var transfers: [USBTransfer] = []
        for _ in 0..<configuration.transfersInFlight {
            transfers.append(
                try USBTransfer.data(
                    context: device.context, handle: device.handle, type: .bulk, endpoint: endpoint, length: configuration.transferSize, data: [],
                    timeout: nil, description: description))
        }
        self.transfers = transfers
    }

    /// Payloads dropped because the reader was slow.
    public var dropped: Int { state.withLock { $0.dropped } }

    /// Payloads handed to the reader.
    public var delivered: Int { state.withLock { $0.delivered } }

    /// Submits the transfers. Once only.
    /// - Throws: `closed` when started twice or stopped; the submit error (`deviceGone`,
    ///   `closed`) when the first transfers cannot be submitted (the stream is then ended).
    public func start() throws(LabvisorError) {
        try state.withLock { (state: inout State) throws(LabvisorError) in
            guard state.phase == .idle else { throw LabvisorError.closed("USB stream on endpoint \(USBControlSetup.hex(endpoint))") }
            state.phase = .running
        }
        for transfer in transfers { resubmit(transfer) }
        if let error = state.withLock({ $0.phase == .ended ? $0.endError : nil }) {
            throw error
        }
    }

    /// The next payload, in submission order; `nil` once the stream was stopped.
    ///
    /// - Parameter timeout: how long to wait for one (`nil`: until one comes, the stream
    ///   ends or the task is cancelled).
    /// - Throws: `timeout`; the error that ended the stream (once, after the payloads before
    ///   it); `LabvisorError.cancelled`. One reader at a time.
    public func next(timeout: Duration? = nil) async throws(LabvisorError) -> [UInt8]? {
        do {
            return try await waitForPayload(timeout: timeout)
        } catch let error where error.code == .driverFault && error.fields["reason"] == "error" {
            // A plain transfer error is what an unplug often looks like first (EPROTO before
            // ENODEV on real controllers): ask the device before calling it a fault.
            if await device.isUnplugged() {
                throw USBErrors.gone(device.info, while: "a bulk IN stream on endpoint \(USBControlSetup.hex(endpoint))")
            }
            throw error
        }
    }

    private func waitForPayload(timeout: Duration?) async throws(LabvisorError) -> [UInt8]? {
        let state = state
        let label = "USB stream on endpoint \(USBControlSetup.hex(endpoint)) of USB device \(device.info.label)"
        do {
            return try await suspend(
                until: timeout.map { .now + $0 },
                register: { (continuation: WaitContinuation<[UInt8]?, any Error>) in
                    let answer: Result<[UInt8]?, LabvisorError>? = state.withLock { state in
                        if let payload = state.buffer.popFirst() {
                            state.delivered += 1
                            return .success(payload)
                        }
                        if state.phase == .ended {
                            if let error = state.endError, !state.endErrorDelivered {
                                state.endErrorDelivered = true
                                return .failure(error)
                            }
                            return .success(nil)
                        }
                        precondition(state.reader == nil, "two concurrent next() calls on one USBBulkStream")
                        state.reader = continuation
                        return nil
                    }
                    if let answer { continuation.resume(with: answer) }
                },
                expire: { end in
                    let reader = state.withLock { state in
                        defer { state.reader = nil }
                        return state.reader
                    }
                    reader?.resume(
                        throwing: end == .deadline
                            ? LabvisorError(
                                .timeout, "no payload from \(label) within \(timeout?.seconds ?? 0) s",
                                fields: ["endpoint": .string(USBControlSetup.hex(self.endpoint)), "timeout_s": .double(timeout?.seconds ?? 0)])
                            : LabvisorError.cancelled("reading the \(label)"))
                })
        } catch let error as LabvisorError {
            throw error
        } catch {
            throw LabvisorError.cancelled("reading the \(label)")
        }
    }

    /// Stops the stream: cancels the transfers in flight, waits up to `stopLimit` for their
    /// callbacks, and ends the stream (a waiting reader gets `nil`, or the error that ended
    /// it). Idempotent; not cancellable (the limit bounds it).
    public func stop() async {
        state.withLock { state in
            if state.phase == .running || state.phase == .idle { state.phase = .stopping }
        }
        // Every transfer, idle ones too: a callback about to resubmit one then cannot.
        for transfer in transfers { transfer.cancel(.closed) }
        let state = state
        try? await suspend(
            until: .now + Self.stopLimit,
            register: { (continuation: WaitContinuation<Void, any Error>) in
                let drained = state.withLock { state in
                    if state.inFlight == 0 { return true }
                    state.stopWaiter = continuation
                    return false
                }
                if drained { continuation.resume() }
            },
            expire: { end in
                guard end == .deadline else { return }
                let waiter = state.withLock { state in
                    defer { state.stopWaiter = nil }
                    return state.stopWaiter
                }
                waiter?.resume(throwing: LabvisorError(.timeout, "stream transfers did not drain"))
            })
        end(with: nil)
    }

    // MARK: The event thread's side

    /// Submits `transfer` with the next sequence number, unless the stream is winding down.
    ///
    /// The lock is held across the submit, so sequence numbers follow the order in which the
    /// transfers reach the endpoint's queue (`start()` and the event thread's resubmits race).
    /// Lock order: stream, then device, then transfer; callbacks take them one at a time.
    private func resubmit(_ transfer: USBTransfer) {
        let failure = state.withLock { state -> (UInt64, LabvisorError)? in
            guard state.phase == .running else { return nil }
            let sequence = state.nextSequence
            state.nextSequence += 1
            state.inFlight += 1
            do throws(LabvisorError) {
                try device.submit(transfer) { [self] outcome in completed(transfer, sequence: sequence, outcome: outcome) }
                return nil
            } catch {
                return (sequence, error)
            }
        }
        if let (sequence, error) = failure { landed(sequence, .failure(error), resubmitting: nil) }
    }

    private func completed(_ transfer: USBTransfer, sequence: UInt64, outcome: USBTransferOutcome) {
        if outcome.status == LIBUSB_TRANSFER_COMPLETED {
            // Copied before the buffer is reused by the resubmit.
            landed(sequence, .success(transfer.payload(count: outcome.actualLength)), resubmitting: transfer)
        } else {
            landed(
                sequence, .failure(USBErrors.transfer(outcome.status, transfer.description, cancelReason: outcome.cancelReason)),
                resubmitting: nil)
        }
    }

    /// Records the result of `sequence`, delivers what is now in order, wakes the reader and
    /// the stopper, and resubmits `transfer` when the stream still runs.
    private func landed(_ sequence: UInt64, _ result: Result<[UInt8], LabvisorError>, resubmitting transfer: USBTransfer?) {
        let (reader, readerValue, stopWaiter, failed): (WaitContinuation<[UInt8]?, any Error>?, Result<[UInt8]?, LabvisorError>?, WaitContinuation<Void, any Error>?, Bool) =
            state.withLock { state in
                state.inFlight -= 1
                state.early[sequence] = result
                var failed = false
                while let next = state.early.removeValue(forKey: state.nextDelivery) {
                    state.nextDelivery += 1
                    switch next {
                    case .success(let payload):
                        guard state.phase == .running else { continue }
                        if state.buffer.count >= configuration.bufferLimit {
                            state.buffer.removeFirst()
                            state.dropped += 1
                        }
                        state.buffer.append(payload)
                    case .failure(let error):
                        // Cancellations we asked for (stop) are not failures.
                        guard state.phase == .running else { continue }
                        state.phase = .ended
                        state.endError = error
                        failed = true
                    }
                }
                var reader: WaitContinuation<[UInt8]?, any Error>?
                var value: Result<[UInt8]?, LabvisorError>?
                if let waiting = state.reader {
                    if let payload = state.buffer.popFirst() {
                        state.delivered += 1
                        (reader, value) = (waiting, .success(payload))
                    } else if state.phase == .ended, let error = state.endError {
                        state.endErrorDelivered = true
                        (reader, value) = (waiting, .failure(error))
                    }
                    if reader != nil { state.reader = nil }
                }
                var stopWaiter: WaitContinuation<Void, any Error>?
                if state.inFlight == 0, state.phase != .running {
                    stopWaiter = state.stopWaiter
                    state.stopWaiter = nil
                }
                return (reader, value, stopWaiter, failed)
            }
        if let reader, let readerValue { reader.resume(with: readerValue) }
        if failed {
            for other in transfers { other.cancel(.closed) }
        }
        if let transfer { resubmit(transfer) }
        if let stopWaiter { stopWaiter.resume() }
    }

    /// Ends the stream after `stop()`: a waiting reader gets `nil` (or the error that ended it).
    private func end(with error: LabvisorError?) {
        let (reader, value): (WaitContinuation<[UInt8]?, any Error>?, Result<[UInt8]?, LabvisorError>) = state.withLock { state in
            if state.phase != .ended {
                state.phase = .ended
                state.endError = error
            }
            defer { state.reader = nil }
            if let pending = state.endError, !state.endErrorDelivered, state.reader != nil {
                state.endErrorDelivered = true
                return (state.reader, .failure(pending))
            }
            return (state.reader, .success(nil))
        }
        reader?.resume(with: value)
    }

    /// Reads with `next()` until the stream ends.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let stream: USBBulkStream

        /// The next payload; `nil` at the end.
        public mutating func next() async throws -> [UInt8]? {
            try await stream.next(timeout: nil)
        }
    }

    /// An iterator over the payloads.
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(stream: self) }
}
