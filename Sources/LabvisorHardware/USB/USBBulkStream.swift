import CLibUSB
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
        /// The payloads in order, for the reader.
        var payloads: SingleReaderBuffer<[UInt8]>
        /// The error that ended the stream, for `start()`.
        var endError: LabvisorError?
        var stopWaiter: WaitContinuation<Void, any Error>?
    }

    /// The device it reads from.
    public let device: USBDevice
    /// The bulk IN endpoint.
    public let endpoint: UInt8
    /// Its configuration.
    public let configuration: Configuration
    private let transfers: [USBTransfer]
    private let state: LockedState<State>

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
        state = LockedState(State(payloads: SingleReaderBuffer(capacity: configuration.bufferLimit)))
    }

    /// Payloads dropped because the reader was slow.
    public var dropped: Int { state.withLock { $0.payloads.dropped } }

    /// Payloads handed to the reader.
    public var delivered: Int { state.withLock { $0.payloads.delivered } }

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
        let label = "USB stream on endpoint \(USBControlSetup.hex(endpoint)) of USB device \(device.info.label)"
        let endpoint = USBControlSetup.hex(endpoint)
        return try await state.next(
            from: \.payloads, timeout: timeout,
            timedOut: {
                LabvisorError(
                    .timeout, "no payload from \(label) within \(timeout?.seconds ?? 0) s",
                    fields: ["endpoint": .string(endpoint), "timeout_s": .double(timeout?.seconds ?? 0)])
            },
            cancelled: { LabvisorError.cancelled("reading the \(label)") })
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
        let (wake, stopWaiter, failed) = state.withLock {
            state -> (SingleReaderBuffer<[UInt8]>.Wake?, WaitContinuation<Void, any Error>?, Bool) in
            state.inFlight -= 1
            state.early[sequence] = result
            var wake: SingleReaderBuffer<[UInt8]>.Wake?
            var failed = false
            while let next = state.early.removeValue(forKey: state.nextDelivery) {
                state.nextDelivery += 1
                // Payloads and cancellations (the ones stop asked for) after the stream stopped
                // running are not delivered.
                guard state.phase == .running else { continue }
                switch next {
                case .success(let payload):
                    if let woken = state.payloads.append(payload) { wake = woken }
                case .failure(let error):
                    state.phase = .ended
                    state.endError = error
                    if let woken = state.payloads.end(error: error) { wake = woken }
                    failed = true
                }
            }
            var stopWaiter: WaitContinuation<Void, any Error>?
            if state.inFlight == 0, state.phase != .running {
                stopWaiter = state.stopWaiter
                state.stopWaiter = nil
            }
            return (wake, stopWaiter, failed)
        }
        wake?.resume()
        if failed {
            for other in transfers { other.cancel(.closed) }
        }
        if let transfer { resubmit(transfer) }
        if let stopWaiter { stopWaiter.resume() }
    }

    /// Ends the stream after `stop()`: a waiting reader gets `nil` (a stream that failed
    /// before has already handed its reader the error, or keeps it for the next read).
    private func end(with error: LabvisorError?) {
        state.withLock { state in
            if state.phase != .ended {
                state.phase = .ended
                state.endError = error
            }
            return state.payloads.end(error: error)
        }?.resume()
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
