import LabvisorDriverKit

/// How encoder counts map to real units for one stage family.
///
/// APT positions are encoder counts; the factor depends on the stage (actuator gearing,
/// encoder). HW_GET_INFO names the controller, not the stage, so the table gives each
/// controller model the stage family it drives; a stage named in the HW_GET_INFO notes
/// text wins over the controller's default. Factors: Thorlabs "APT Communications
/// Protocol", section "Conversion between position, velocity, acceleration and the
/// encoder counts" (see README.md).
public struct APTStageScale: Sendable, Hashable {
    /// The stage family ("Z8xx").
    public var stage: String
    /// Encoder counts per `unit`.
    public var countsPerUnit: Double
    /// "mm" for linear stages, "deg" for rotation stages.
    public var unit: String
    /// The positions the stage can reach, in `unit`; `nil` when the family varies.
    public var travel: ClosedRange<Double>?

    /// Counts to units.
    public func units(fromCounts counts: Int32) -> Double { Double(counts) / countsPerUnit }

    /// Units to the nearest count.
    ///
    /// - Throws: `invalidArgument` naming `argument` when the count does not fit 32 bits.
    public func counts(fromUnits value: Double, argument: String) throws(LabvisorError) -> Int32 {
        let counts = (value * countsPerUnit).rounded()
        guard counts.isFinite, counts >= Double(Int32.min), counts <= Double(Int32.max) else {
            throw LabvisorError.invalidArgument(argument, "\(value) \(unit) is beyond the controller's 32-bit position counter")
        }
        return Int32(counts)
    }

    /// Z8 DC servo actuators (Z806, Z812, Z825B) on a TDC001 / KDC101: 512 counts per motor
    /// turn, 67.49:1 gearbox, 1 mm lead screw. Travel: the longest (Z825B, 25 mm); shorter
    /// actuators stop at their limit switches.
    public static let z8 = APTStageScale(stage: "Z8xx", countsPerUnit: 34554.96, unit: "mm", travel: 0...25)
    /// MTS25-Z8 / MTS50-Z8 translation stages (67:1 gearbox).
    public static let mts = APTStageScale(stage: "MTS25/50-Z8", countsPerUnit: 34304, unit: "mm", travel: 0...50)
    /// PRM1-Z8 rotation mount.
    public static let prm1 = APTStageScale(stage: "PRM1-Z8", countsPerUnit: 1919.6418578623391, unit: "deg", travel: nil)
    /// DDSM100 direct-drive stage on a KBD101 / TBD001.
    public static let ddsm100 = APTStageScale(stage: "DDSM100", countsPerUnit: 2000, unit: "mm", travel: 0...100)
    /// DDS220/300/600 direct-drive and MLS203 stages on a BBD10x/20x.
    public static let dds = APTStageScale(stage: "DDS/MLS203", countsPerUnit: 20000, unit: "mm", travel: nil)
    /// K10CR1 rotation mount (stepper, 24576000 counts per 180 degrees).
    public static let k10cr1 = APTStageScale(stage: "K10CR1", countsPerUnit: 24_576_000.0 / 180, unit: "deg", travel: nil)

    /// Stage names looked for in the HW_GET_INFO notes, most specific first.
    static let stagesByName: [(name: String, scale: APTStageScale)] = [
        ("PRM1", prm1), ("MTS25", mts), ("MTS50", mts), ("DDSM100", ddsm100), ("DDS", dds), ("MLS203", dds), ("Z8", z8),
    ]

    /// Controller models and the stage family each one drives by default.
    static let controllers: [String: APTStageScale] = [
        "KDC101": z8, "TDC001": z8, "KBD101": ddsm100, "TBD001": ddsm100,
        "BBD101": dds, "BBD102": dds, "BBD103": dds, "BBD201": dds, "BBD202": dds, "BBD203": dds,
        "K10CR1": k10cr1,
    ]

    /// The scale for a controller.
    ///
    /// - Throws: `driverFault` naming the model and the known ones when neither the notes
    ///   name a known stage nor the model is known (moving in unknown units is unsafe).
    public static func lookUp(model: String, notes: String) throws(LabvisorError) -> APTStageScale {
        let upperNotes = notes.uppercased()
        if let named = stagesByName.first(where: { upperNotes.contains($0.name) }) { return named.scale }
        if let scale = controllers[model.uppercased()] { return scale }
        throw LabvisorError(
            .driverFault,
            "no unit scale is known for APT controller model '\(model)' (notes '\(notes)'); known models: "
                + controllers.keys.sorted().joined(separator: ", "),
            fields: ["model": .string(model), "notes": .string(notes)])
    }
}
