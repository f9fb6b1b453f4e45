import Foundation

/// One planned movement of a simulated axis: a trapezoidal velocity profile (accelerate,
/// cruise, decelerate) or, for a stop, a single deceleration ramp. Positions and speeds are
/// in microsteps and microsteps per second; time is measured from `start`.
struct ZaberMotionProfile: Sendable {
    /// When the movement began.
    let start: ContinuousClock.Instant
    /// The position it began at.
    let origin: Double
    /// +1 or -1.
    let direction: Double
    /// The speed at `start`.
    let initialSpeed: Double
    /// The highest speed reached.
    let peakSpeed: Double
    /// Acceleration and deceleration, microsteps/s² (`.infinity`: instantaneous).
    let acceleration: Double
    /// End of the acceleration phase, seconds after `start`.
    let accelerationEnd: Double
    /// End of the constant-speed phase.
    let cruiseEnd: Double
    /// End of the movement.
    let end: Double
    /// Where the movement stops (exact, in microsteps).
    let target: Int

    /// A move from `origin` (at rest) to `target` at up to `maxSpeed` with `acceleration`.
    static func move(
        from origin: Int, to target: Int, maxSpeed: Double, acceleration: Double, at start: ContinuousClock.Instant
    ) -> ZaberMotionProfile {
        let distance = Double(abs(target - origin))
        let direction: Double = target >= origin ? 1 : -1
        let speed = max(maxSpeed, 1)
        guard acceleration.isFinite, acceleration > 0 else {
            let duration = distance / speed
            return ZaberMotionProfile(
                start: start, origin: Double(origin), direction: direction, initialSpeed: speed, peakSpeed: speed,
                acceleration: .infinity, accelerationEnd: 0, cruiseEnd: duration, end: duration, target: target)
        }
        let rampDistance = speed * speed / (2 * acceleration)
        let peak = 2 * rampDistance <= distance ? speed : (acceleration * distance).squareRoot()
        let ramp = peak / acceleration
        let cruise = peak > 0 ? (distance - peak * ramp) / peak : 0
        return ZaberMotionProfile(
            start: start, origin: Double(origin), direction: direction, initialSpeed: 0, peakSpeed: peak,
            acceleration: acceleration, accelerationEnd: ramp, cruiseEnd: ramp + max(cruise, 0),
            end: 2 * ramp + max(cruise, 0), target: target)
    }

    /// A stop at `now`: decelerate from the current speed to rest.
    func stopped(at now: ContinuousClock.Instant) -> ZaberMotionProfile {
        let position = self.position(at: now)
        let speed = self.speed(at: now)
        guard acceleration.isFinite, speed > 0 else {
            let here = Int(position.rounded())
            return ZaberMotionProfile(
                start: now, origin: Double(here), direction: direction, initialSpeed: 0, peakSpeed: 0,
                acceleration: acceleration, accelerationEnd: 0, cruiseEnd: 0, end: 0, target: here)
        }
        let duration = speed / acceleration
        let distance = speed * duration / 2
        return ZaberMotionProfile(
            start: now, origin: position, direction: direction, initialSpeed: speed, peakSpeed: speed,
            acceleration: acceleration, accelerationEnd: 0, cruiseEnd: 0, end: duration,
            target: Int((position + direction * distance).rounded()))
    }

    /// When the movement ends.
    var finish: ContinuousClock.Instant { start + .seconds(end) }

    /// Whether the axis is still moving at `now`.
    func isMoving(at now: ContinuousClock.Instant) -> Bool { now < finish }

    /// The position at `now` (microsteps, fractional).
    func position(at now: ContinuousClock.Instant) -> Double {
        let t = (now - start).seconds
        if t >= end { return Double(target) }
        if t <= 0 { return origin }
        var travelled: Double
        if t < accelerationEnd {
            travelled = initialSpeed * t + 0.5 * acceleration * t * t
        } else {
            let ramp = accelerationEnd
            travelled = initialSpeed * ramp + 0.5 * (acceleration.isFinite ? acceleration : 0) * ramp * ramp
            let cruise = min(t, cruiseEnd) - ramp
            travelled += peakSpeed * cruise
            if t > cruiseEnd {
                let braking = t - cruiseEnd
                travelled += peakSpeed * braking - 0.5 * acceleration * braking * braking
            }
        }
        return origin + direction * travelled
    }

    /// The speed at `now` (microsteps/s, never negative).
    func speed(at now: ContinuousClock.Instant) -> Double {
        let t = (now - start).seconds
        if t >= end || t < 0 { return 0 }
        if t < accelerationEnd { return initialSpeed + acceleration * t }
        if t <= cruiseEnd { return peakSpeed }
        return max(peakSpeed - acceleration * (t - cruiseEnd), 0)
    }
}
