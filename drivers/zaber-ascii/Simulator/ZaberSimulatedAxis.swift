import Foundation

/// One axis of the simulated controller: its settings (in the device's own units), its
/// position over time, and its warning flags.
public struct ZaberSimulatedAxis: Sendable {
    /// Microsteps per full step (`get resolution`).
    public var resolution = 64
    /// Maximum speed in the device's units (`maxspeed`): speed in microsteps/s times 1.6384.
    public var maxSpeed = 153_600
    /// Acceleration in the device's units (`accel`); speed change in microsteps/s² is
    /// `accel × 10000 / 1.6384` (0: instantaneous).
    public var acceleration = 205
    /// Travel limits, microsteps (`limit.min`, `limit.max`).
    public var limitMin = 0
    /// See `limitMin`.
    public var limitMax = 1_049_869
    /// Whether the axis has a reference position (homed); until then every reply carries `WR`.
    public var homed = false
    /// Warning flags the axis holds besides `WR` (`FS`, `NI`, ...).
    public var flags: Set<String> = []

    var restingPosition = 304_800
    var motion: ZaberMotionProfile?
    var stallAfter: Int?
    var stalling = false
    var homing = false

    /// An axis at `position` microsteps, not homed.
    public init(position: Int = 304_800) {
        restingPosition = position
    }

    /// Speed in microsteps/s.
    var speed: Double { Double(maxSpeed) / 1.6384 }
    /// Acceleration in microsteps/s² (`.infinity` for `accel 0`).
    var accelerationRate: Double { acceleration == 0 ? .infinity : Double(acceleration) * 10_000 / 1.6384 }

    /// The position at `now`, in whole microsteps.
    public func position(at now: ContinuousClock.Instant) -> Int {
        guard let motion else { return restingPosition }
        return Int(motion.position(at: now).rounded())
    }

    /// Whether a movement is in progress at `now`.
    public func isBusy(at now: ContinuousClock.Instant) -> Bool { motion?.isMoving(at: now) ?? false }

    /// Every flag raised at `now`, most severe first (faults `F`, warnings `W`, notices `N`).
    public func warnings(at now: ContinuousClock.Instant) -> [String] {
        var all = flags
        if !homed { all.insert("WR") }
        let rank: (String) -> Int = { ["F": 0, "W": 1, "N": 2][$0.first.map(String.init) ?? ""] ?? 3 }
        return all.sorted { (rank($0), $0) < (rank($1), $1) }
    }

    /// Settles a finished movement; returns whether one just finished (for alerts).
    mutating func settle(at now: ContinuousClock.Instant) -> Bool {
        guard let motion, !motion.isMoving(at: now) else { return false }
        restingPosition = motion.target
        self.motion = nil
        if homing {
            homing = false
            homed = true
            restingPosition = 0
        }
        if stalling {
            stalling = false
            flags.insert("FS")
        }
        return true
    }

    /// Starts a movement to `target` (already checked against the limits).
    mutating func move(to target: Int, at now: ContinuousClock.Instant) {
        if isBusy(at: now) { flags.insert("NI") } else { flags.remove("NI") }
        let from = position(at: now)
        var end = target
        if let stall = stallAfter {
            end = from + (target >= from ? 1 : -1) * min(stall, abs(target - from))
            stallAfter = nil
            stalling = true
        }
        flags.remove("FS")
        motion = .move(from: from, to: end, maxSpeed: speed, acceleration: accelerationRate, at: now)
    }

    /// Starts homing: a move to the home sensor at 0, after which the position is zeroed.
    mutating func home(at now: ContinuousClock.Instant) {
        move(to: 0, at: now)
        homing = true
    }

    /// Decelerates to a stop (`stop`).
    mutating func stop(at now: ContinuousClock.Instant) {
        guard let motion, motion.isMoving(at: now) else { return }
        flags.insert("NI")
        homing = false
        stalling = false
        self.motion = motion.stopped(at: now)
    }
}
