import Foundation
import LabvisorDriverKit

/// The daemon's built-in loopback instrument (`labvisord --loopback`): no hardware, no
/// transport. `echo` returns its argument, so benchmarks and tests measure the daemon and the
/// wire alone; `sleep` holds the call queue for a while (deadlines, immediate calls);
/// `startFrames` publishes the synthetic test image (`SyntheticFramePattern`) on the stream
/// `frames`, so the data path can be measured and checked byte for byte without a camera;
/// `emitEvents` publishes a burst of `propertyChanged` events, for the event fan-out.
public actor LoopbackDriver: InstrumentDriver {
    public static let driverID = "loopback"
    /// The name of its frame stream.
    public static let frameStreamName = "frames"

    /// Formats of the test pattern.
    public enum PatternFormat: String, Sendable, CaseIterable, DriverValue {
        /// 8-bit grey.
        case grey = "GREY"
        /// 16-bit grey, little-endian.
        case grey16 = "Y16"
        /// YUV 4:2:2.
        case yuy2 = "YUY2"
    }

    static let value = Argument<JSONValue>("value", "returned as it is", default: .null)
    static let seconds = Argument<Double>("seconds", "how long", unit: "s", range: 0...3600)
    static let width = Argument<Int>("width", "frame width", unit: "px", range: 1...8192, default: 640)
    static let height = Argument<Int>("height", "frame height", unit: "px", range: 1...8192, default: 480)
    static let format = Argument<PatternFormat>("format", "pixel format", default: .grey)
    static let fps = Argument<Double>("fps", "frames per second", unit: "Hz", range: 0.1...10_000, default: 30)
    static let count = Argument<Int>("count", "frames to publish, then stop; 0: until stopFrames", range: 0...1_000_000_000, default: 0)
    static let events = Argument<Int>("count", "events to publish", range: 1...100_000_000)
    static let eventRate = Argument<Double>("perSecond", "events per second; 0: as fast as it can", unit: "Hz", range: 0...10_000_000, default: 0)

    public static let methods: [DriverMethod<LoopbackDriver>] = [
        DriverMethod("echo", "returns its argument", access: .observe, arguments: [value]) { _, arguments in
            try arguments[value]
        },
        DriverMethod("sleep", "holds the instrument's queue for a while", arguments: [seconds]) { _, arguments in
            try await Task.sleep(for: .seconds(try arguments[seconds]))
        },
        DriverMethod("stop", "interrupts a sleep", immediate: true) { _, _ in },
        DriverMethod(
            "startFrames",
            "publishes the test pattern ((x + 3y + 5 sequence) mod 2^bits per sample) on the stream 'frames' at fps; replaces a running one",
            access: .observe, arguments: [width, height, format, fps, count]
        ) { driver, arguments in
            try await driver.startFrames(
                try SyntheticFramePattern(width: arguments[width], height: arguments[height], format: arguments[format].rawValue),
                fps: arguments[fps], count: arguments[count])
        },
        DriverMethod("stopFrames", "stops publishing frames", access: .observe) { driver, _ in
            await driver.stopFrames()
        },
        DriverMethod(
            "emitEvents", "publishes count propertyChanged events (property 'tick', values 1 to count) at perSecond, or as fast as it can",
            access: .observe, arguments: [events, eventRate]
        ) { driver, arguments in
            try await driver.emitEvents(try arguments[events], perSecond: try arguments[eventRate])
        },
    ]

    public static let properties: [DriverProperty<LoopbackDriver>] = [
        DriverProperty("version", "the daemon's version") { _ in LabvisorVersion.current },
        DriverProperty("framesPublished", "frames published on 'frames' since the driver opened") { driver in
            driver.frames.published
        },
    ]

    private let frames: FrameStream
    private let context: DriverContext
    private var producer: Task<Void, Never>?

    public init(context: DriverContext) async throws {
        self.context = context
        frames = context.stream(named: Self.frameStreamName, capacity: 4)
    }

    public func identify() async throws -> InstrumentIdentification {
        InstrumentIdentification(model: "loopback", serialNumber: nil, firmware: LabvisorVersion.current)
    }

    public func shutdown() async throws { await stopFrames() }

    /// Starts publishing `pattern` at `fps` (paced on the continuous clock), `count` frames
    /// (0: until stopped).
    func startFrames(_ pattern: SyntheticFramePattern, fps: Double, count: Int) async {
        await stopFrames()
        let frames = self.frames
        producer = Task {
            let interval = Duration.seconds(1 / fps)
            var next = ContinuousClock.now
            var sent = 0
            while !Task.isCancelled, count == 0 || sent < count {
                // Only this task publishes, so the stream's next sequence number is `published`.
                let sequence = UInt64(frames.published)
                let frame = DataFrame(
                    width: pattern.width, height: pattern.height, format: pattern.format, bytes: pattern.bytes(sequence: sequence))
                guard frames.publish(frame) != nil else { return }
                sent += 1
                next += interval
                if next < .now - interval { next = .now }  // fell behind: do not burst to catch up
                do { try await Task.sleep(until: next, clock: .continuous) } catch { return }
            }
        }
    }

    /// Publishes `count` `propertyChanged` events of the property `tick` (values 1 to `count`)
    /// in groups of 64: at `perSecond` on average (each group waits for its time), or with
    /// `perSecond` 0 as fast as it can, yielding the thread between groups (tasks share the
    /// event loops' threads).
    func emitEvents(_ count: Int, perSecond: Double) async throws {
        let start = ContinuousClock.now
        for value in 1...count {
            context.publish(property: "tick", value: .int(value))
            guard value % 64 == 0 else { continue }
            if perSecond > 0 {
                try await Task.sleep(until: start + .seconds(Double(value) / perSecond), clock: .continuous)
            } else {
                await Task.yield()
            }
        }
    }

    /// Stops publishing; harmless when not publishing.
    func stopFrames() async {
        guard let running = producer else { return }
        producer = nil
        running.cancel()
        await running.value
    }
}

extension Supervisor {
    /// Adds the loopback instrument, named `loopback`.
    public func addLoopback(logger: Logger) {
        add(ManagedInstrument(
            name: "loopback", kind: "other", driver: DriverCatalog.Entry(LoopbackDriver.self), tags: ["builtin": true],
            simulated: true, events: events, logger: logger, connect: { .none }))
    }
}
