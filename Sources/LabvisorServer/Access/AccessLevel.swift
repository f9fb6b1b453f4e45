/// What a caller may do with an instrument, from least to most. A level includes the ones
/// below it: whoever may control may observe, whoever may administer may control.
public enum AccessLevel: Int, Sendable, Hashable, Comparable, CaseIterable, CustomStringConvertible {
    /// List, describe, read properties, watch events, open streams.
    case observe
    /// Take leases, invoke methods, write properties.
    case control
    /// Revoke others' leases, inject simulator faults, read the audit log.
    case administer

    /// The configuration key of its access list (`observe`, `control`, `administer`).
    public var key: String {
        switch self {
        case .observe: "observe"
        case .control: "control"
        case .administer: "administer"
        }
    }

    public var description: String { key }

    public static func < (lhs: AccessLevel, rhs: AccessLevel) -> Bool { lhs.rawValue < rhs.rawValue }
}
