/// Converts one axis's device units to millimetres: positions in microsteps, speeds in the
/// `maxspeed` unit (microsteps/s × 1.6384, per the ASCII protocol manual's `maxspeed` entry).
struct ZaberAxisScale: Sendable, Equatable {
    /// The `maxspeed` unit: a speed of 1 microstep/s reads as 1.6384.
    static let speedFactor = 1.6384

    /// The size of one microstep, mm.
    let microstepMillimetres: Double

    /// The scale of an axis whose full step is `fullStepMillimetres`, at `resolution`
    /// microsteps per step (`get resolution`).
    init(fullStepMillimetres: Double, resolution: Int) {
        microstepMillimetres = fullStepMillimetres / Double(max(resolution, 1))
    }

    /// Microsteps to mm.
    func millimetres(_ microsteps: Int) -> Double { Double(microsteps) * microstepMillimetres }

    /// mm to the nearest microstep.
    func microsteps(_ millimetres: Double) -> Int { Int((millimetres / microstepMillimetres).rounded()) }

    /// A `maxspeed` value to mm/s.
    func millimetresPerSecond(maxSpeed: Int) -> Double {
        Double(maxSpeed) / Self.speedFactor * microstepMillimetres
    }

    /// mm/s to the nearest `maxspeed` value.
    func maxSpeed(millimetresPerSecond speed: Double) -> Int {
        Int((speed / microstepMillimetres * Self.speedFactor).rounded())
    }
}
