import LabvisorCore

/// Request and response over a `SerialPort`: write a request, return the frame that answers
/// it. One request at a time; a second caller waits for its turn (within its timeout).
///
/// Which frames answer a request is up to `isResponse(request, frame)`; other frames that
/// arrive meanwhile are unsolicited (APT status updates, Zaber alerts) and are kept for
/// `nextUnsolicited(timeout:)`, up to a limit after which the oldest are dropped.
///
/// Keeping requests and responses paired:
/// - A request that fails (timeout, garbage, cancellation) resyncs: the port's input is
///   flushed and the decoder's partial frame dropped. The next request flushes the input
///   once more before it writes, so a late reply that arrived in between is discarded
///   instead of answering it.
/// - When the failed request had been written, its reply may still be on the way: the next
///   request first reads and discards until that reply arrives, or `lateReplyWindow` passes
///   quietly (an interrupted query followed by an immediate `stop` stays paired).
/// - A reply later than that window cannot be told apart by timing; protocols that echo a
///   command or an id should pass an `isResponse` that checks it, and the late reply then
///   goes to the unsolicited frames.
/// - Garbage (a decoder error) fails the request with the decoder's `driverFault`, after the
///   resync; it never hangs the exchange.
public final class SerialExchange<Decoder: FrameDecoder>: Sendable {
    /// A decoded frame.
    public typealias Frame = Decoder.Frame

    /// The port the exchange talks over (owned by the caller; closing it ends the exchange).
    public let port: SerialPort
    private let isResponse: @Sendable (_ request: [UInt8], _ frame: Frame) -> Bool
    private let unsolicitedLimit: Int
    /// How long the request after an abandoned one waits for the abandoned reply.
    public let lateReplyWindow: Duration

    private struct State: Sendable {
        var decoder: Decoder
        var busy = false
        var turnWaiters: [(key: UInt64, continuation: WaitContinuation<Void, any Error>)] = []
        var nextKey: UInt64 = 0
        /// A request failed: the next one flushes the input before writing.
        var stale = false
        /// A request failed after it was written: its reply may still be on its way, so the
        /// next request first waits out `lateReplyWindow` for it.
        var replyOutstanding: [UInt8]?
        var unsolicited: [Frame] = []
        var droppedUnsolicited = 0
        var discardedStale = 0
    }

    private let state: LockedState<State>

    /// Bytes asked of the port per read.
    private static var readSize: Int { 1024 }

    /// Creates an exchange.
    ///
    /// - Parameters:
    ///   - port: an open port.
    ///   - decoder: cuts the port's input into frames.
    ///   - isResponse: whether `frame` answers `request`; by default every frame does.
    ///   - unsolicitedLimit: unsolicited frames kept; the oldest are dropped past it.
    ///   - lateReplyWindow: after a request was abandoned once written (timeout,
    ///     cancellation), the next request first discards input until the abandoned reply
    ///     arrives or this long passes without it, so that reply cannot answer it.
    public init(
        port: SerialPort, decoder: Decoder,
        isResponse: @escaping @Sendable (_ request: [UInt8], _ frame: Frame) -> Bool = { _, _ in true },
        unsolicitedLimit: Int = 256, lateReplyWindow: Duration = .milliseconds(250)
    ) {
        self.port = port
        self.lateReplyWindow = lateReplyWindow
        self.isResponse = isResponse
        self.unsolicitedLimit = max(0, unsolicitedLimit)
        self.state = LockedState(State(decoder: decoder))
    }

    /// Runs `body` with the port's reactor as the task's preferred executor (see
    /// `SerialPort.withReactorAffinity(_:)`): requests made in `body` resume on the reactor
    /// thread. `body` must not block.
    public func withReactorAffinity<Result: Sendable>(
        _ body: () async throws -> Result
    ) async rethrows -> Result {
        try await port.withReactorAffinity(body)
    }

    /// Unsolicited frames dropped because nobody took them in time.
    public var droppedUnsolicitedCount: Int { state.withLock { $0.droppedUnsolicited } }

    /// Bytes discarded as stale input by resyncs, as far as the decoder had seen them.
    public var discardedByteCount: Int { state.withLock { $0.discardedStale } }

    /// Writes `request` and returns the first frame that answers it.
    ///
    /// - Parameter timeout: for the whole request: waiting for the turn, writing, and the
    ///   reply.
    /// - Throws: `timeout` (after a resync), `driverFault` for garbage (after a resync),
    ///   `deviceGone`, `closed`, `unavailable` (`cancelled: true`).
    public func request(_ request: [UInt8], timeout: Duration) async throws -> Frame {
        try await self.request(request, timeout: timeout) { frame in frame }
    }

    /// Writes `request` and reads frames that answer it until `assemble` returns a reply:
    /// for replies of several frames (a value line then `OK`, info lines then a status).
    ///
    /// - Parameter assemble: called with each answering frame in order; returns the reply
    ///   once complete, `nil` to read on. A throw ends the request (after a resync).
    /// - Throws: as `request(_:timeout:)`, and what `assemble` throws.
    public func request<Reply>(
        _ request: [UInt8], timeout: Duration, assemble: (Frame) throws -> Reply?
    ) async throws -> Reply {
        let deadline = ContinuousClock.now + timeout
        let stale = try await takeTurn(until: deadline, for: "a request")
        defer { passTurn() }
        var written = false
        do {
            if stale {
                // Only a failed request leaves a reply outstanding, and it always marks stale.
                if let abandoned = state.withLock({ $0.replyOutstanding }) {
                    try await discardLateReply(to: abandoned, until: deadline)
                }
                try resync()
            }
            try await port.write(request, timeout: remaining(until: deadline))
            written = true
            while true {
                let frame = try await receive(until: deadline, wanted: { isResponse(request, $0) }, other: keepUnsolicited)
                if let reply = try assemble(frame) { return reply }
            }
        } catch let error as LabvisorError {
            if error.code != .deviceGone && error.code != .closed {
                try? resync()
                state.withLock {
                    $0.stale = true
                    if written { $0.replyOutstanding = request }
                }
            }
            if error.code == .timeout {
                throw LabvisorError(
                    .timeout, "no reply from serial port \(port.path) within \(timeout.seconds) s",
                    fields: ["node": .string(port.path), "timeout": .double(timeout.seconds)])
            }
            throw error
        }
    }

    /// Writes bytes that expect no reply, in turn with requests.
    ///
    /// - Throws: as `SerialPort.write(_:timeout:)`, or `timeout` waiting for the turn.
    public func send(_ bytes: [UInt8], timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        try await takeTurn(until: deadline, for: "a write")
        defer { passTurn() }
        try await port.write(bytes, timeout: remaining(until: deadline))
    }

    /// The next unsolicited frame: one kept from earlier, or one read now while no request
    /// is running. Frames that look like responses when no request is running are stale and
    /// are dropped.
    ///
    /// - Returns: the frame, or `nil` when none came within `timeout`.
    /// - Throws: `driverFault` for garbage (the bad bytes are skipped), `deviceGone`,
    ///   `closed`, `unavailable` (`cancelled: true`).
    public func nextUnsolicited(timeout: Duration) async throws -> Frame? {
        if let frame = takeUnsolicited() { return frame }
        let deadline = ContinuousClock.now + timeout
        do {
            try await takeTurn(until: deadline, for: "unsolicited frames")
        } catch let error as LabvisorError where error.code == .timeout {
            return takeUnsolicited()
        }
        defer { passTurn() }
        if let frame = takeUnsolicited() { return frame }
        do {
            return try await receive(until: deadline, wanted: { _ in true }, other: { _ in })
        } catch let error as LabvisorError where error.code == .timeout {
            return nil
        }
    }

    /// Discards stale input: flushes the port's input queue and the decoder's buffer.
    ///
    /// - Throws: `closed`, or `unavailable` when the flush fails.
    public func resync() throws(LabvisorError) {
        state.withLock { state in
            state.discardedStale += state.decoder.bufferedByteCount
            state.decoder.reset()
            state.stale = false
        }
        try port.flush(.input)
    }

    // MARK: - Receiving

    /// Reads input until the abandoned request's reply arrives (dropped) or
    /// `lateReplyWindow` passes without it; unsolicited frames are kept as usual.
    private func discardLateReply(to abandoned: [UInt8], until deadline: ContinuousClock.Instant) async throws {
        state.withLock { $0.replyOutstanding = nil }
        let end = min(deadline, ContinuousClock.now + lateReplyWindow)
        do {
            _ = try await receive(until: end, wanted: { isResponse(abandoned, $0) }, other: keepUnsolicited)
        } catch let error as LabvisorError where error.code == .timeout || error.code == .driverFault {
            // Quiet for the whole window, or garbage: the resync that follows drops it.
        }
    }

    /// Reads and decodes until a frame passes `wanted`; hands the others to `other`.
    private func receive(
        until deadline: ContinuousClock.Instant, wanted: (Frame) -> Bool, other: (Frame) -> Void
    ) async throws -> Frame {
        var received: [UInt8] = []
        while true {
            // What was read goes into the decoder in the same lock as the first look for a frame.
            while let frame = try state.withLock({ (state) throws(LabvisorError) in
                if !received.isEmpty {
                    state.decoder.append(received)
                    received = []
                }
                return try state.decoder.nextFrame()
            }) {
                if wanted(frame) { return frame }
                other(frame)
            }
            received = try await port.read(upTo: Self.readSize, timeout: remaining(until: deadline))
        }
    }

    private func keepUnsolicited(_ frame: Frame) {
        state.withLock { state in
            guard unsolicitedLimit > 0 else {
                state.droppedUnsolicited += 1
                return
            }
            if state.unsolicited.count >= unsolicitedLimit {
                state.unsolicited.removeFirst()
                state.droppedUnsolicited += 1
            }
            state.unsolicited.append(frame)
        }
    }

    private func takeUnsolicited() -> Frame? {
        state.withLock { state in state.unsolicited.isEmpty ? nil : state.unsolicited.removeFirst() }
    }

    private func remaining(until deadline: ContinuousClock.Instant) -> Duration {
        max(deadline - ContinuousClock.now, .zero)
    }

    // MARK: - Taking turns

    /// Waits until no other request, write or unsolicited read is running. Returns whether
    /// an earlier request failed, so that this one must resync first.
    @discardableResult
    private func takeTurn(until deadline: ContinuousClock.Instant, for purpose: String) async throws -> Bool {
        let immediate = state.withLock { state -> Bool? in
            if state.busy { return nil }
            state.busy = true
            return state.stale
        }
        if let stale = immediate { return stale }
        let key = state.withLock { state in
            state.nextKey += 1
            return state.nextKey
        }
        let path = port.path
        try await suspend(
            until: deadline,
            register: { (continuation: WaitContinuation<Void, any Error>) in
                state.withLock { state in
                    if state.busy {
                        state.turnWaiters.append((key, continuation))
                    } else {
                        state.busy = true
                        continuation.resume()
                    }
                }
            },
            expire: { [state] end in
                let waiter = state.withLock { state in
                    state.turnWaiters.firstIndex { $0.key == key }.map { state.turnWaiters.remove(at: $0) }
                }
                guard let waiter else { return }
                switch end {
                case .deadline:
                    waiter.continuation.resume(throwing: LabvisorError(
                        .timeout, "serial port \(path) stayed busy with other requests while \(purpose) waited",
                        fields: ["node": .string(path), "reason": "busy"]))
                case .cancelled:
                    waiter.continuation.resume(throwing: LabvisorError.cancelled("\(purpose) on serial port \(path)"))
                }
            })
        return state.withLock { $0.stale }
    }

    /// Hands the turn to the next waiter, or frees it.
    private func passTurn() {
        let next = state.withLock { state -> WaitContinuation<Void, any Error>? in
            if state.turnWaiters.isEmpty {
                state.busy = false
                return nil
            }
            return state.turnWaiters.removeFirst().continuation
        }
        next?.resume()
    }
}
