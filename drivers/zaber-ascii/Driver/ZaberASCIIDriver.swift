import LabvisorDriverKit

/// A Zaber stage or multi-axis controller over the Zaber ASCII protocol: home, absolute and
/// relative moves in mm that return once the axis is idle again, an immediate stop, position,
/// speed, busy state and warning flags. See README.md for sources, units and choices.
///
/// Every command carries a message id (`/1 1 05 get pos`) and only the reply echoing it
/// (`@01 1 05 OK IDLE -- 1200`) answers it, so a late reply to an abandoned command can
/// never answer the next one.
///
/// A class, not an actor: everything it keeps is read once when it opens (`let`s), and the
/// host's call queue runs one call at a time. An actor's isolation would protect nothing and
/// cost a hop onto the actor per call (`labvisor-bench zaber`, `docs/benchmarks.md`).
public final class ZaberASCIIDriver: InstrumentDriver {
    public static let driverID = "zaber-ascii"

    /// The device number addressed on the port: the first device of a daisy chain (Zaber's
    /// default numbering). One driver controls one device, with all its axes.
    public static let deviceNumber = 1

    /// The full-step size assumed for every axis, mm. The ASCII protocol does not report a
    /// stage's physical step size (Zaber's device database does); 3.048 µm per step is the
    /// value of many Zaber lead-screw stages (0.047625 µm per microstep at resolution 64).
    /// The microstep size is this divided by the axis's `resolution`, read from the device.
    public static let fullStepMillimetres = 0.003_048

    /// How long a command waits for its reply. A device answers within milliseconds; the
    /// margin is for a loaded host (the tests run under ThreadSanitizer beside other suites).
    public static let replyTimeout = Duration.seconds(2)

    /// How often a move in progress is polled when no alert arrives first.
    static let pollInterval = Duration.milliseconds(20)

    static let axis = Argument<Int>("axis", "axis number", range: 1...9, default: 1)
    static let axes = Argument<Int>("axis", "axis number, 0 for every axis", range: 0...9, default: 0)
    static let position = Argument<Double>("position", "target position", unit: "mm", range: -100_000...100_000)
    static let distance = Argument<Double>("distance", "distance to move (negative: towards home)", unit: "mm",
        range: -100_000...100_000)
    static let velocity = Argument<Double>("velocity", "maximum speed", unit: "mm/s", range: 0.000_001...10_000)

    public static let methods: [DriverMethod<ZaberASCIIDriver>] = [
        DriverMethod("home", "homes the axis (0: every axis) and returns once it is idle", arguments: [axes]) { stage, arguments in
            try await stage.home(axis: try arguments[axes])
        },
        DriverMethod("moveAbsolute", "moves to a position and returns the position reached once idle",
            arguments: [position, axis], unit: "mm"
        ) { stage, arguments in
            try await stage.moveAbsolute(to: try arguments[position], axis: try arguments[axis])
        },
        DriverMethod("moveRelative", "moves by a distance and returns the position reached once idle",
            arguments: [distance, axis], unit: "mm"
        ) { stage, arguments in
            try await stage.moveRelative(by: try arguments[distance], axis: try arguments[axis])
        },
        DriverMethod("stop", "stops the axis (0: every axis) at once, interrupting a move in progress",
            immediate: true, arguments: [axes]
        ) { stage, arguments in
            try await stage.stop(axis: try arguments[axes])
        },
        DriverMethod("waitUntilIdle", "returns once the axis (0: every axis) has stopped moving", access: .observe,
            arguments: [axes]
        ) { stage, arguments in
            _ = try await stage.waitUntilIdle(axis: try arguments[axes])
        },
        DriverMethod("axisPosition", "the position of one axis", access: .observe, arguments: [axis], unit: "mm") {
            stage, arguments in try await stage.position(axis: try arguments[axis])
        },
        DriverMethod("axisVelocity", "the maximum speed of one axis", access: .observe, arguments: [axis], unit: "mm/s") {
            stage, arguments in try await stage.velocity(axis: try arguments[axis])
        },
        DriverMethod("setAxisVelocity", "sets the maximum speed of one axis", arguments: [velocity, axis]) {
            stage, arguments in try await stage.setVelocity(try arguments[velocity], axis: try arguments[axis])
        },
        DriverMethod("clearWarnings", "clears the warning flags of every axis (not WR: homing clears it)") { stage, _ in
            try await stage.clearWarnings()
        },
    ]

    public static let properties: [DriverProperty<ZaberASCIIDriver>] = [
        DriverProperty("position", "position of axis 1", unit: "mm") { stage in try await stage.position(axis: 1) },
        DriverProperty("positions", "positions of every axis, axis 1 first (mm)") { stage in try await stage.positions() },
        DriverProperty("velocity", "maximum speed: reads axis 1, writes every axis", unit: "mm/s", range: 0.000_001...10_000,
            get: { stage in try await stage.velocity(axis: 1) },
            set: { stage, speed in try await stage.setVelocity(speed, axis: 0) }),
        DriverProperty("busy", "whether any axis is moving") { stage in try await stage.isBusy() },
        DriverProperty("warnings", "warning flags of every axis: [{axis, flag, meaning}]") { stage in
            try await stage.warnings()
        },
        DriverProperty("axisCount", "number of axes") { stage in try await stage.readAxisCount() },
    ]

    private let context: DriverContext
    private let link: ZaberCommandLink
    /// Axis count and per-axis scales and limits, read when the driver opens.
    private let axisCount: Int
    private let scales: [ZaberAxisScale]
    private let limits: [ClosedRange<Int>]

    public init(context: DriverContext) async throws {
        self.context = context
        link = ZaberCommandLink(
            channel: try context.lineChannel(timeout: Self.replyTimeout, isReply: ZaberCommandLink.isReply(from: Self.deviceNumber)),
            device: Self.deviceNumber, instrument: context.instrument)
        let count = try await link.integer("get system.axiscount", axis: 0)
        guard count >= 1 else {
            throw LabvisorError(.driverFault, "Zaber device \(Self.deviceNumber) on \(link.path) reports \(count) axes")
        }
        let resolutions = try await link.integers("get resolution", axis: 0, count: count)
        let minima = try await link.integers("get limit.min", axis: 0, count: count)
        let maxima = try await link.integers("get limit.max", axis: 0, count: count)
        axisCount = count
        scales = resolutions.map { ZaberAxisScale(fullStepMillimetres: Self.fullStepMillimetres, resolution: $0) }
        limits = zip(minima, maxima).map { min($0, $1)...max($0, $1) }
    }

    public func identify() async throws -> InstrumentIdentification {
        let deviceID = try await link.send("get deviceid", axis: 0).data
        let serial = try await link.send("get system.serial", axis: 0).data
        let version = try await link.send("get version", axis: 0).data
        return InstrumentIdentification(
            model: "Zaber device \(deviceID)", serialNumber: serial, firmware: version,
            details: [
                "deviceID": .string(deviceID), "deviceNumber": .int(Self.deviceNumber), "axisCount": .int(axisCount),
                "microstepSizeMillimetres": .array(scales.map { .double($0.microstepMillimetres) }),
            ])
    }

    /// Stops every axis (the manifest's safe state).
    public func shutdown() async throws {
        _ = try await link.send("stop", axis: 0)
    }

    // MARK: - Motion

    func home(axis: Int) async throws {
        try checkAxis(axis, allowingAll: true)
        _ = try await link.send("home", axis: axis)
        _ = try await waitUntilIdle(axis: axis)
    }

    func moveAbsolute(to millimetres: Double, axis: Int) async throws -> Double {
        try checkAxis(axis, allowingAll: false)
        _ = try await readyPosition(axis: axis)
        let target = scales[axis - 1].microsteps(millimetres)
        try checkWithinLimits(target, axis: axis, argument: "position", requested: millimetres)
        return try await move("move abs \(target)", axis: axis, argument: "position")
    }

    func moveRelative(by millimetres: Double, axis: Int) async throws -> Double {
        try checkAxis(axis, allowingAll: false)
        let current = try await readyPosition(axis: axis)
        let steps = scales[axis - 1].microsteps(millimetres)
        try checkWithinLimits(current + steps, axis: axis, argument: "distance", requested: millimetres)
        return try await move("move rel \(steps)", axis: axis, argument: "distance")
    }

    func stop(axis: Int) async throws {
        try checkAxis(axis, allowingAll: true)
        _ = try await link.send("stop", axis: axis)
    }

    /// Polls `get pos` until the axis (or every axis) is idle, publishing axis 1's position;
    /// an alert (`!01 1 IDLE --`, when the device sends them) cuts the pause short. A fault
    /// flag at the end (`FS` stalled, ...) is an error. When the wait is cancelled (deadline,
    /// immediate call) the axis is stopped before the cancellation is passed on.
    func waitUntilIdle(axis: Int) async throws -> ZaberReply {
        try checkAxis(axis, allowingAll: true)
        do {
            while true {
                let reply = try await link.send("get pos", axis: axis)
                if let steps = reply.integers {
                    if axis <= 1, let first = steps.first {
                        context.publish(property: "position", value: .double(scales[0].millimetres(first)))
                    }
                }
                if !reply.busy {
                    if ZaberWarningFlag.isFault(reply.warning) {
                        throw LabvisorError(
                            .driverFault,
                            "Zaber axis \(axis) of \(context.instrument) stopped with fault \(reply.warning) "
                                + "(\(ZaberWarningFlag.meaning(reply.warning)))",
                            fields: ["axis": .int(axis), "warning": .string(reply.warning), "position": .string(reply.data)])
                    }
                    return reply
                }
                _ = try await link.nextAlert(timeout: Self.pollInterval)
            }
        } catch {
            if Task.isCancelled { await stopAfterInterruption(axis: axis) }
            throw error
        }
    }

    private func move(_ command: String, axis: Int, argument: String) async throws -> Double {
        do {
            _ = try await link.send(command, axis: axis, argument: argument)
        } catch {
            if Task.isCancelled { await stopAfterInterruption(axis: axis) }
            throw error
        }
        let reply = try await waitUntilIdle(axis: axis)
        guard let steps = reply.integers?.first else { throw link.unexpected("get pos", reply) }
        return scales[axis - 1].millimetres(steps)
    }

    /// Sends `stop` from a task of its own, so that it runs although the calling task was
    /// cancelled; bounded by the link's reply timeout.
    private func stopAfterInterruption(axis: Int) async {
        let link = self.link
        _ = try? await Task { try await link.send("stop", axis: axis) }.value
    }

    /// The axis's position in microsteps, after checking it is homed: a move before homing is
    /// refused by the driver (`unavailable`) whatever the device would do.
    private func readyPosition(axis: Int) async throws -> Int {
        let reply = try await link.send("get pos", axis: axis)
        guard let position = reply.integers?.first else { throw link.unexpected("get pos", reply) }
        if reply.warning != "--" {
            let flags = try await warningFlags(axis: axis)
            if flags.contains("WR") {
                throw LabvisorError(
                    .unavailable,
                    "Zaber axis \(axis) of \(context.instrument) has no reference position (warning WR): home it before moving",
                    fields: ["axis": .int(axis), "warning": "WR"])
            }
        }
        return position
    }

    private func checkWithinLimits(_ target: Int, axis: Int, argument: String, requested: Double) throws(LabvisorError) {
        let range = limits[axis - 1]
        guard range.contains(target) else {
            let scale = scales[axis - 1]
            throw LabvisorError(
                .invalidArgument,
                "\(argument) \(requested) mm takes axis \(axis) outside its travel "
                    + "\(scale.millimetres(range.lowerBound))...\(scale.millimetres(range.upperBound)) mm",
                fields: [
                    "argument": .string(argument), "axis": .int(axis),
                    "minimum": .double(scale.millimetres(range.lowerBound)),
                    "maximum": .double(scale.millimetres(range.upperBound)),
                ])
        }
    }

    private func checkAxis(_ axis: Int, allowingAll: Bool) throws(LabvisorError) {
        guard (allowingAll ? 0 : 1)...axisCount ~= axis else {
            throw LabvisorError(
                .invalidArgument,
                "axis \(axis) does not exist on \(context.instrument), which has \(axisCount) "
                    + (axisCount == 1 ? "axis" : "axes") + (allowingAll ? " (0: every axis)" : ""),
                fields: ["argument": "axis", "axisCount": .int(axisCount)])
        }
    }

    // MARK: - Properties

    func position(axis: Int) async throws -> Double {
        try checkAxis(axis, allowingAll: false)
        return scales[axis - 1].millimetres(try await link.integer("get pos", axis: axis))
    }

    func positions() async throws -> JSONValue {
        let steps = try await link.integers("get pos", axis: 0, count: axisCount)
        return .array(zip(steps, scales).map { .double($1.millimetres($0)) })
    }

    func velocity(axis: Int) async throws -> Double {
        try checkAxis(axis, allowingAll: false)
        return scales[axis - 1].millimetresPerSecond(maxSpeed: try await link.integer("get maxspeed", axis: axis))
    }

    /// Sets `maxspeed` of one axis, or of every axis (0) each in its own units.
    func setVelocity(_ speed: Double, axis: Int) async throws {
        try checkAxis(axis, allowingAll: true)
        for index in axis == 0 ? Array(1...axisCount) : [axis] {
            let value = scales[index - 1].maxSpeed(millimetresPerSecond: speed)
            guard value >= 1 else {
                throw LabvisorError.invalidArgument("velocity", "\(speed) mm/s is below axis \(index)'s smallest speed step")
            }
            _ = try await link.send("set maxspeed \(value)", axis: index, argument: "velocity")
        }
    }

    func isBusy() async throws -> Bool { try await link.send("", axis: 0).busy }

    func readAxisCount() async throws -> Int { try await link.integer("get system.axiscount", axis: 0) }

    func warnings() async throws -> JSONValue {
        var list: [JSONValue] = []
        for axis in 1...axisCount {
            for flag in try await warningFlags(axis: axis) {
                list.append(.object(["axis": .int(axis), "flag": .string(flag), "meaning": .string(ZaberWarningFlag.meaning(flag))]))
            }
        }
        return .array(list)
    }

    func clearWarnings() async throws {
        for axis in 1...axisCount { _ = try await link.send("warnings clear", axis: axis) }
    }

    /// The flags of `warnings` (`@01 1 OK IDLE WR 02 WR NI`: a count, then the flags).
    private func warningFlags(axis: Int) async throws -> [String] {
        let reply = try await link.send("warnings", axis: axis)
        let fields = reply.data.split(separator: " ").map(String.init)
        guard let count = fields.first.flatMap({ Int($0) }), fields.count == count + 1 else {
            throw link.unexpected("warnings", reply)
        }
        return Array(fields.dropFirst())
    }
}
