/// The access lists of the configuration: the `[access]` defaults and each instrument's own.
/// No list at all (the default) lets everyone who can connect do everything.
///
/// The list that decides a level for an instrument is the instrument's own list for that
/// level, else `[access]`'s, else the nearest lower level's (by the same rule), else none:
/// open. A caller has a level when that level's deciding list, or a higher level's, admits
/// it (whoever may administer may control and observe).
public struct AccessPolicy: Sendable, Hashable {
    /// `[access]`: for every instrument without a list of its own, and for daemon-wide actions.
    public var defaults: [AccessLevel: AccessList]
    /// Each instrument's own lists, by instrument name.
    public var instruments: [String: [AccessLevel: AccessList]]

    /// Creates a policy.
    public init(defaults: [AccessLevel: AccessList] = [:], instruments: [String: [AccessLevel: AccessList]] = [:]) {
        self.defaults = defaults
        self.instruments = instruments.filter { !$0.value.isEmpty }
    }

    /// Whether no list restricts anything.
    public var isOpen: Bool { defaults.isEmpty && instruments.isEmpty }

    /// The list that decides `level` for `instrument` (`nil`: daemon-wide), or `nil` when
    /// that level is open.
    public func decidingList(_ level: AccessLevel, instrument: String?) -> AccessList? {
        let own = instrument.flatMap { instruments[$0] }
        var candidate: AccessLevel? = level
        while let current = candidate {
            if let list = own?[current] ?? defaults[current] { return list }
            candidate = AccessLevel(rawValue: current.rawValue - 1)
        }
        return nil
    }

    /// Whether `caller` has `level` on `instrument` (`nil`: daemon-wide).
    public func allows(_ caller: CallerIdentity, _ level: AccessLevel, instrument: String?) -> Bool {
        guard let deciding = decidingList(level, instrument: instrument) else { return true }
        if deciding.admits(caller) { return true }
        for higher in AccessLevel.allCases where higher > level {
            if let list = decidingList(higher, instrument: instrument), list != deciding, list.admits(caller) { return true }
        }
        return false
    }

    /// The highest level `caller` has on `instrument` (`nil`: none).
    func highestLevel(_ caller: CallerIdentity, instrument: String?) -> AccessLevel? {
        AccessLevel.allCases.reversed().first { allows(caller, $0, instrument: instrument) }
    }

    /// What `caller` may do, computed once per connection identity (checks are then a lookup).
    public func grants(for caller: CallerIdentity) -> AccessGrants {
        if isOpen { return .everything }
        return AccessGrants(
            fallback: highestLevel(caller, instrument: nil),
            instruments: instruments.keys.reduce(into: [:]) { grants, name in grants[name] = .some(highestLevel(caller, instrument: name)) })
    }

    /// The `permissionDenied` error for `caller` lacking `level` on `instrument` (`nil`:
    /// daemon-wide), naming the rule: "user bob (uid 1001) may not control laser-488:
    /// [instrument laser-488] control = ["group:optics"] (labvisord.toml line 42)".
    public func denial(of caller: CallerIdentity, _ level: AccessLevel, instrument: String?, action: String? = nil) -> LabvisorError {
        let rule = decidingList(level, instrument: instrument).map { "\($0)" } ?? "no access list"
        let what = action ?? "\(level) \(instrument ?? "this daemon")"
        var fields: [String: JSONValue] = ["level": .string(level.key), "rule": .string(rule), "caller": .string("\(caller)")]
        if let instrument { fields["instrument"] = .string(instrument) }
        return LabvisorError(.permissionDenied, "\(caller) may not \(what): \(rule)", fields: fields)
    }
}

/// What one caller may do, per instrument: the policy evaluated once for its identity.
public struct AccessGrants: Sendable, Hashable {
    /// The level on instruments without lists of their own, and daemon-wide (`nil`: none).
    public var fallback: AccessLevel?
    /// The level on each instrument with lists of its own (`.none`: none).
    public var instruments: [String: AccessLevel?]

    /// Everything everywhere (no access lists).
    public static let everything = AccessGrants(fallback: .administer, instruments: [:])
    /// Nothing anywhere.
    public static let nothing = AccessGrants(fallback: nil, instruments: [:])

    /// Creates grants.
    public init(fallback: AccessLevel?, instruments: [String: AccessLevel?]) {
        self.fallback = fallback
        self.instruments = instruments
    }

    /// Whether these grants include `level` on `instrument` (`nil`: daemon-wide).
    public func permit(_ level: AccessLevel, instrument: String?) -> Bool {
        let granted: AccessLevel?
        if let instrument, let own = instruments[instrument] { granted = own } else { granted = fallback }
        guard let granted else { return false }
        return granted >= level
    }
}
