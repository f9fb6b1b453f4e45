import LabvisorDriverKit

/// A Thorlabs DC servo motor controller (KDC101, TDC001, ...) over the APT binary protocol,
/// channel 1, on the generic USB unit address. See README.md.
///
/// Moves (`home`, `moveAbsolute`, `moveRelative`) send their command, then wait for the
/// completion message (MOT_MOVE_HOMED, MOT_MOVE_COMPLETED), which the controller sends
/// on its own when the motion ends; meanwhile the driver polls the status every 100 ms
/// and publishes the position. `stop` is immediate: it interrupts a move in progress.
/// Status updates the controller sends unprompted are consumed (cached, published) and
/// never taken as replies.
public actor ThorlabsAPTDriver: InstrumentDriver {
    /// The manifest id (`drivers/thorlabs-apt/driver.toml`).
    public static let driverID = "thorlabs-apt"

    static let position = Argument<Double>(
        "position", "target position (mm; degrees on rotation stages)", unit: "mm", range: -100_000...100_000)
    static let distance = Argument<Double>(
        "distance", "distance to move, signed (mm; degrees on rotation stages)", unit: "mm", range: -100_000...100_000)

    /// `home`, `moveAbsolute`, `moveRelative`, `stop` (immediate).
    public static let methods: [DriverMethod<ThorlabsAPTDriver>] = [
        DriverMethod("home", "moves to the home switch and zeroes the position counter") { stage, _ in
            try await stage.home()
        },
        DriverMethod("moveAbsolute", "moves to a position and returns the position reached",
            arguments: [position], unit: "mm"
        ) { stage, arguments in
            try await stage.moveAbsolute(to: arguments[position])
        },
        DriverMethod("moveRelative", "moves by a distance and returns the position reached",
            arguments: [distance], unit: "mm"
        ) { stage, arguments in
            try await stage.moveRelative(by: arguments[distance])
        },
        DriverMethod("stop", "stops motion at once (interrupts a move in progress)", immediate: true) { stage, _ in
            try await stage.stop()
        },
    ]

    /// `position`, `status`, `homed`, `moving`, `unit` (all read-only).
    public static let properties: [DriverProperty<ThorlabsAPTDriver>] = [
        DriverProperty("position", "position counter in real units", unit: "mm") { stage in try await stage.readPosition() },
        DriverProperty("status", "status bits: moving, homed, limit switches, ...") { stage in try await stage.readStatus() },
        DriverProperty("homed", "whether the stage has been homed") { stage in try await stage.requestStatus().homed },
        DriverProperty("moving", "whether the stage is moving or homing") { stage in try await stage.requestStatus().moving },
        DriverProperty("unit", "unit of positions and distances: mm, or deg for rotation stages") { stage in
            try await stage.currentScale().unit
        },
    ]

    /// The channel every message addresses (single-channel controllers).
    static let channel: UInt8 = 1
    /// Between status polls during a move.
    static let pollInterval = Duration.milliseconds(100)
    /// The longest a homing may take.
    static let homeTimeout = Duration.seconds(120)

    private let exchange: SerialExchange<LengthFieldFrameDecoder>
    private let context: DriverContext
    private let replyTimeout: Duration
    private var scale: APTStageScale?
    /// Maximum velocity (counts/s) and acceleration (counts/s²) from MOT_GET_VELPARAMS, for move time bounds.
    private var velocity = 0.0
    private var acceleration = 0.0
    private var lastStatus: APTStatus?
    /// A move ended without its completion message (deadline, error): its motion may go
    /// on, and its completion would end the next move early, so the next move stops first.
    private var motionUnsettled = false
    /// A motion command is out and its completion awaited: unsolicited messages are left
    /// for `runMotion`, which takes the completion from among them.
    private var awaitingCompletion = false

    /// Opens the driver on the context's serial port (no I/O until `identify()`).
    ///
    /// - Throws: `driverFault` when the transport is not serial.
    public init(context: DriverContext) async throws {
        self.context = context
        replyTimeout = .seconds(1)  // a controller answers in milliseconds; the margin is for loaded hosts
        exchange = SerialExchange(
            port: try context.serialPort(), decoder: .thorlabsAPT(),
            isResponse: { request, frame in APTMessageID.isReply(frame, to: request) })
    }

    /// Reads HW_GET_INFO, picks the unit scale for the model, reads the velocity parameters.
    /// Update messages are switched off first: the driver polls instead (see README.md).
    public func identify() async throws -> InstrumentIdentification {
        try await exchange.send(APTMessage(APTMessageID.hwStopUpdateMessages).bytes, timeout: replyTimeout)
        let info = try APTDeviceInfo(try await request(APTMessage(APTMessageID.hwReqInfo)))
        let scale = try APTStageScale.lookUp(model: info.model, notes: info.notes)
        self.scale = scale
        let parameters = try await request(APTMessage(APTMessageID.motReqVelocityParams, param1: Self.channel))
        // min velocity (long), acceleration (long), max velocity (long), device units.
        acceleration = Double(try parameters.long(at: 6)) / Self.accelerationPerCountsPerSecondSquared
        velocity = Double(try parameters.long(at: 10)) / Self.velocityPerCountsPerSecond
        return InstrumentIdentification(
            model: info.model, serialNumber: String(info.serialNumber), firmware: info.firmware,
            details: [
                "stage": .string(scale.stage), "unit": .string(scale.unit), "countsPerUnit": .double(scale.countsPerUnit),
                "hardwareType": .int(Int(info.hardwareType)), "hardwareVersion": .int(Int(info.hardwareVersion)),
                "channels": .int(Int(info.channels)), "notes": .string(info.notes),
            ])
    }

    /// Stops motion (the safe state).
    public func shutdown() async throws { try await stop() }

    // MARK: - Methods

    func home() async throws {
        try await runMotion(APTMessage(APTMessageID.motMoveHome, param1: Self.channel), completion: APTMessageID.motMoveHomed,
            bound: Self.homeTimeout, what: "homing")
        publish(try await requestStatus())
    }

    func moveAbsolute(to target: Double) async throws -> Double {
        // Checked in a synchronous helper: with the checks inline, swiftc 6.3.1 -O crashes
        // splitting this coroutine (emitSetAndGetSwiftErrorValueAround).
        let counts = try absoluteCounts(target)
        let from = try await requestStatus().position
        var data: [UInt8] = []
        data.appendWord(UInt16(Self.channel))
        data.appendLong(counts)
        return try await move(APTMessage(APTMessageID.motMoveAbsolute, data: data), distance: abs(Double(counts) - Double(from)))
    }

    /// `target` in device counts, after checking it against the stage's travel.
    private func absoluteCounts(_ target: Double) throws(LabvisorError) -> Int32 {
        let scale = try currentScale()
        if let travel = scale.travel, !travel.contains(target) {
            throw LabvisorError.invalidArgument(
                "position", "\(target) \(scale.unit) is outside the \(scale.stage) travel \(travel.lowerBound)...\(travel.upperBound) \(scale.unit)")
        }
        return try scale.counts(fromUnits: target, argument: "position")
    }

    func moveRelative(by distance: Double) async throws -> Double {
        let scale = try currentScale()
        let counts = try scale.counts(fromUnits: distance, argument: "distance")
        let from = try await requestStatus().position
        if let travel = scale.travel, !travel.contains(scale.units(fromCounts: from) + distance) {
            throw LabvisorError.invalidArgument(
                "distance",
                "moving \(distance) \(scale.unit) from \(scale.units(fromCounts: from)) \(scale.unit) leaves the \(scale.stage) travel \(travel.lowerBound)...\(travel.upperBound) \(scale.unit)")
        }
        var data: [UInt8] = []
        data.appendWord(UInt16(Self.channel))
        data.appendLong(counts)
        return try await move(APTMessage(APTMessageID.motMoveRelative, data: data), distance: abs(Double(counts)))
    }

    /// Immediate stop (stop mode 1); waits for MOT_MOVE_STOPPED. A controller that was not
    /// moving may not answer: then a status read confirms it is at rest.
    func stop() async throws {
        let command = APTMessage(APTMessageID.motMoveStop, param1: Self.channel, param2: 1)
        do {
            let reply = try await request(command)
            if reply.data != nil { publish(try APTStatus(reply)) }
        } catch let error as LabvisorError where error.code == .timeout {
            let status = try await requestStatus()
            guard !status.moving else { throw error }
        }
        motionUnsettled = false
    }

    // MARK: - Properties

    func readPosition() async throws -> Double {
        let scale = try currentScale()
        let reply = try await request(APTMessage(APTMessageID.motReqPositionCounter, param1: Self.channel))
        return scale.units(fromCounts: try reply.long(at: 2))
    }

    func readStatus() async throws -> JSONValue {
        try await requestStatus().json(scale: try currentScale())
    }

    func currentScale() throws(LabvisorError) -> APTStageScale {
        guard let scale else { throw LabvisorError(.driverFault, "instrument \(context.instrument) has not been identified yet") }
        return scale
    }

    /// MOT_REQ_DCSTATUSUPDATE -> MOT_GET_DCSTATUSUPDATE, cached and published.
    func requestStatus() async throws -> APTStatus {
        let status = try APTStatus(try await request(APTMessage(APTMessageID.motReqDCStatusUpdate, param1: Self.channel)))
        publish(status)
        return status
    }

    // MARK: - Motion

    /// Runs a move and returns the position reached.
    private func move(_ command: APTMessage, distance counts: Double) async throws -> Double {
        let final = try await runMotion(
            command, completion: APTMessageID.motMoveCompleted, bound: moveBound(counts: counts), what: "the move")
        let reached: APTStatus
        if let final { reached = final } else { reached = try await requestStatus() }
        return try currentScale().units(fromCounts: reached.position)
    }

    /// A generous bound for a move of `counts`: twice the trapezoidal profile's time, plus 5 s.
    private func moveBound(counts: Double) -> Duration {
        guard velocity > 0, acceleration > 0 else { return .seconds(60) }
        let rampDistance = velocity * velocity / acceleration
        let seconds = counts <= rampDistance
            ? 2 * (counts / acceleration).squareRoot()
            : 2 * velocity / acceleration + (counts - rampDistance) / velocity
        return .milliseconds(Int64(min(seconds * 2 + 5, 3600) * 1000))
    }

    /// Sends a motion command and waits for `completion`, polling the status meanwhile.
    ///
    /// - Returns: the status the completion message carries, if any.
    /// - Throws: `timeout` past `bound` (motion left unsettled: the next move stops first),
    ///   `driverFault` for an error report, cancellation when `stop` interrupts.
    @discardableResult
    private func runMotion(_ command: APTMessage, completion: UInt16, bound: Duration, what: String) async throws -> APTStatus? {
        if motionUnsettled { try await stop() }
        try await drainUnsolicited()
        motionUnsettled = true
        awaitingCompletion = true
        defer { awaitingCompletion = false }
        try await exchange.send(command.bytes, timeout: replyTimeout)
        let deadline = ContinuousClock.now + bound
        var nextPoll = ContinuousClock.now + Self.pollInterval
        while true {
            let now = ContinuousClock.now
            guard now < deadline else {
                throw LabvisorError(
                    .timeout, "\(what) on \(exchange.port.path) did not complete within \(bound.seconds) s",
                    fields: ["node": .string(exchange.port.path), "timeout": .double(bound.seconds)])
            }
            let frame: [UInt8]?
            do {
                frame = try await exchange.nextUnsolicited(timeout: min(nextPoll, deadline) - now)
            } catch let error as LabvisorError where error.code == .driverFault && error.fields["reason"] != nil {
                context.logger.warning("garbage while waiting for \(what): \(error.message)")
                continue
            }
            guard let frame else {
                _ = try await requestStatus()
                nextPoll = ContinuousClock.now + Self.pollInterval
                continue
            }
            let message = try APTMessage(frame: frame)
            if message.id == completion {
                motionUnsettled = false
                guard message.data != nil else { return nil }
                let status = try APTStatus(message)
                publish(status)
                return status
            }
            try consume(message)
            if message.id == APTMessageID.motMoveStopped {
                // Stopped without a stop from this driver: a limit switch, the front panel.
                motionUnsettled = false
                throw LabvisorError(
                    .driverFault, "\(what) on \(exchange.port.path) was stopped by the controller before it completed",
                    fields: ["node": .string(exchange.port.path), "messageID": .int(Int(message.id))])
            }
        }
    }

    // MARK: - Messages

    /// Sends `message` and returns its reply; an error report becomes `driverFault`.
    /// Unsolicited messages that arrived meanwhile are consumed afterwards, except while a
    /// motion's completion is awaited (they may hold it).
    private func request(_ message: APTMessage) async throws -> APTMessage {
        let reply = try APTMessage(frame: try await exchange.request(message.bytes, timeout: replyTimeout))
        try throwIfError(reply, about: message)
        if !awaitingCompletion { try await drainUnsolicited() }
        return reply
    }

    /// Consumes the unsolicited messages kept by the exchange. Completions found here are
    /// stale (no motion awaits them) and dropped.
    private func drainUnsolicited() async throws {
        while let frame = try await exchange.nextUnsolicited(timeout: .zero) {
            guard let message = try? APTMessage(frame: frame) else { continue }
            if [APTMessageID.motMoveCompleted, APTMessageID.motMoveHomed].contains(message.id) {
                context.logger.debug("discarding a stale completion 0x\(message.hexID) before a new move")
                continue
            }
            try? consume(message)
        }
    }

    /// Handles a message nobody asked for: status updates are cached and published (and
    /// deliberately not acknowledged, so the controller lets them lapse); error reports throw.
    private func consume(_ message: APTMessage) throws {
        switch message.id {
        case APTMessageID.motGetDCStatusUpdate, APTMessageID.motMoveStopped, APTMessageID.motMoveCompleted:
            publish(try APTStatus(message))
        case APTMessageID.motGetStatusUpdate:
            // Stepper-style status: channel, position, encoder count, status bits.
            publish(APTStatus(position: try message.long(at: 2), bits: try message.dword(at: 10)))
        case APTMessageID.hwResponse, APTMessageID.hwRichResponse:
            try throwIfError(message, about: nil)
        default:
            context.logger.debug("ignoring unsolicited APT message 0x\(message.hexID)")
        }
    }

    /// HW_RESPONSE / HW_RICHRESPONSE (the controller's error reports) as `driverFault`.
    private func throwIfError(_ reply: APTMessage, about request: APTMessage?) throws(LabvisorError) {
        let what = request.map { "message 0x\($0.hexID)" } ?? "an unsolicited report"
        switch reply.id {
        case APTMessageID.hwResponse:
            throw LabvisorError(
                .driverFault, "the APT controller on \(exchange.port.path) reported an error (HW_RESPONSE) about \(what)",
                fields: ["node": .string(exchange.port.path)])
        case APTMessageID.hwRichResponse:
            let about = (try? reply.word(at: 0)) ?? 0
            let code = (try? reply.word(at: 2)) ?? 0
            let notes = (try? reply.text(at: 4, size: 64)) ?? ""
            throw LabvisorError(
                .driverFault,
                "the APT controller on \(exchange.port.path) reported error \(code) about message 0x\(APTMessage.hex(about)): \(notes)",
                fields: [
                    "node": .string(exchange.port.path), "deviceError": .string(String(code)), "notes": .string(notes),
                    "messageID": .int(Int(about)),
                ])
        default: return
        }
    }

    /// Caches `status` and publishes what changed (the position always).
    private func publish(_ status: APTStatus) {
        let previous = lastStatus
        lastStatus = status
        guard let scale else { return }
        context.publish(property: "position", value: .double(scale.units(fromCounts: status.position)))
        if previous?.moving != status.moving { context.publish(property: "moving", value: .bool(status.moving)) }
        if previous?.homed != status.homed { context.publish(property: "homed", value: .bool(status.homed)) }
        if previous?.bits != status.bits { context.publish(property: "status", value: status.json(scale: scale)) }
    }

    // MARK: - Units

    /// APT velocity units per count/s and acceleration units per count/s² on DC servo
    /// controllers: VEL = counts/s × T × 65536 and ACC = counts/s² × T² × 65536, with
    /// T = 2048 / 6 MHz (APT Communications Protocol, "conversion" section).
    static let sampleInterval = 2048.0 / 6_000_000
    static let velocityPerCountsPerSecond = sampleInterval * 65536
    static let accelerationPerCountsPerSecondSquared = sampleInterval * sampleInterval * 65536
}
