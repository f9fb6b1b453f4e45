/// A point-to-point move with a trapezoidal velocity profile: accelerate at `acceleration`
/// up to `maxVelocity`, cruise, decelerate to rest at `target` (a triangle when the move
/// is too short to reach full speed). Starts at rest.
public struct TrapezoidalMove: Sendable, Hashable {
    /// Where the move starts, encoder counts.
    public let start: Double
    /// Where it ends, encoder counts.
    public let target: Double
    /// When it started.
    public let startTime: ContinuousClock.Instant
    /// Peak speed reached, counts/s.
    public let peakVelocity: Double
    /// Acceleration, counts/s².
    public let acceleration: Double
    /// Time spent accelerating (and as long decelerating), seconds.
    public let rampTime: Double
    /// Time spent at peak velocity, seconds.
    public let cruiseTime: Double

    /// Plans a move from `start` to `target`.
    public init(from start: Double, to target: Double, at startTime: ContinuousClock.Instant, maxVelocity: Double, acceleration: Double) {
        self.start = start
        self.target = target
        self.startTime = startTime
        let distance = abs(target - start)
        let velocity = max(maxVelocity, 1)
        let acceleration = max(acceleration, 1)
        self.acceleration = acceleration
        if distance <= velocity * velocity / acceleration {
            // Triangle: accelerate half way, decelerate the rest.
            peakVelocity = (distance * acceleration).squareRoot()
            rampTime = peakVelocity / acceleration
            cruiseTime = 0
        } else {
            peakVelocity = velocity
            rampTime = velocity / acceleration
            cruiseTime = (distance - velocity * velocity / acceleration) / velocity
        }
    }

    /// Total duration.
    public var duration: Duration { .seconds(2 * rampTime + cruiseTime) }

    /// When it ends.
    public var endTime: ContinuousClock.Instant { startTime + duration }

    /// +1 forward (increasing counts), -1 reverse.
    public var direction: Double { target >= start ? 1 : -1 }

    /// Position at `now`, counts (clamped to the start and the target).
    public func position(at now: ContinuousClock.Instant) -> Double {
        let t = (now - startTime).seconds
        guard t > 0 else { return start }
        let rampDistance = 0.5 * acceleration * rampTime * rampTime
        let travelled: Double
        if t < rampTime {
            travelled = 0.5 * acceleration * t * t
        } else if t < rampTime + cruiseTime {
            travelled = rampDistance + peakVelocity * (t - rampTime)
        } else if t < 2 * rampTime + cruiseTime {
            let left = 2 * rampTime + cruiseTime - t
            travelled = abs(target - start) - 0.5 * acceleration * left * left
        } else {
            return target
        }
        return start + direction * travelled
    }

    /// Speed at `now`, counts/s (unsigned).
    public func speed(at now: ContinuousClock.Instant) -> Double {
        let t = (now - startTime).seconds
        guard t > 0 else { return 0 }
        if t < rampTime { return acceleration * t }
        if t < rampTime + cruiseTime { return peakVelocity }
        if t < 2 * rampTime + cruiseTime { return acceleration * (2 * rampTime + cruiseTime - t) }
        return 0
    }
}
