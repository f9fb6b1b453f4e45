/// `instrument.invoke`: calls a driver method.
public enum InvokeMethod: WireMethod {
    /// Parameters.
    public struct Params: Codable, Sendable, Hashable {
        /// The instrument.
        public var instrument: String
        /// The method (see `instruments.describe`).
        public var method: String
        /// The arguments by name; checked against the method's schema before the driver runs.
        public var arguments: [String: JSONValue]
        /// Seconds the call may take, waiting in the instrument's queue included; past it the
        /// call is cancelled in the driver (`deadlineExceeded`). Default: the daemon's.
        public var timeout: Double?
        /// Return at once with a call id; the outcome arrives as a `callCompleted` or
        /// `callFailed` event.
        public var oneway: Bool?
        /// The lease to act under, when this connection did not take it (its token).
        public var leaseToken: String?
        /// Creates parameters.
        public init(
            instrument: String, method: String, arguments: [String: JSONValue] = [:], timeout: Double? = nil,
            oneway: Bool? = nil, leaseToken: String? = nil
        ) {
            self.instrument = instrument
            self.method = method
            self.arguments = arguments
            self.timeout = timeout
            self.oneway = oneway
            self.leaseToken = leaseToken
        }
    }
    /// Result.
    public struct Result: Codable, Sendable, Hashable {
        /// What the method returned (`null` for nothing); absent for a oneway call.
        public var value: JSONValue?
        /// The call id of a oneway call.
        public var call: Int?
        /// Creates a result.
        public init(value: JSONValue? = nil, call: Int? = nil) {
            self.value = value
            self.call = call
        }
    }
    public static let name = "instrument.invoke"
    public static let summary = """
        Calls a method. Control methods need the caller's lease (held by this connection, or \
        named by `leaseToken`); observe methods do not. Calls to one instrument run one at a \
        time in arrival order; `immediate` methods interrupt the call in progress.
        """
    public static let errors: [ErrorCode] = [
        .notFound, .unknownMethod, .invalidArgument, .leaseRequired, .leaseRevoked, .deadlineExceeded, .timeout,
        .deviceGone, .driverFault, .resourceExhausted,
    ]
    public static let exampleParams = Params(instrument: "heater-1", method: "rampTo", arguments: ["celsius": 40], timeout: 30)
    public static let exampleResult = Result(value: 39.6)

    public static func params(fromTree tree: JSONValue) -> Params? {
        guard case .object(let members) = tree, case .string(let instrument)? = members["instrument"],
            case .string(let method)? = members["method"], case .object(let arguments)? = members["arguments"],
            let timeout = WireTree.optionalNumber(members["timeout"]), let oneway = WireTree.optionalBool(members["oneway"]),
            let leaseToken = WireTree.optionalString(members["leaseToken"])
        else { return nil }
        return Params(instrument: instrument, method: method, arguments: arguments, timeout: timeout, oneway: oneway, leaseToken: leaseToken)
    }

    public static func tree(of result: Result) -> JSONValue? {
        var members: [String: JSONValue] = [:]
        if let value = result.value { members["value"] = value }
        if let call = result.call { members["call"] = .int(call) }
        return .object(members)
    }

    public static func tree(ofParams params: Params) -> JSONValue? {
        var members: [String: JSONValue] = [
            "instrument": .string(params.instrument), "method": .string(params.method), "arguments": .object(params.arguments),
        ]
        if let timeout = params.timeout { members["timeout"] = .double(timeout) }
        if let oneway = params.oneway { members["oneway"] = .bool(oneway) }
        if let leaseToken = params.leaseToken { members["leaseToken"] = .string(leaseToken) }
        return .object(members)
    }

    public static func result(fromTree tree: JSONValue) -> Result? {
        guard case .object(let members) = tree, let call = WireTree.optionalInt(members["call"]) else { return nil }
        // `Codable` reads a `null` value as an absent one.
        return Result(value: WireTree.optionalValue(members["value"]), call: call)
    }
}

/// `instrument.get`: reads a property.
public enum GetProperty: WireMethod {
    /// Parameters.
    public struct Params: Codable, Sendable, Hashable {
        /// The instrument.
        public var instrument: String
        /// The property.
        public var property: String
        /// Seconds the read may take.
        public var timeout: Double?
        /// Creates parameters.
        public init(instrument: String, property: String, timeout: Double? = nil) {
            self.instrument = instrument
            self.property = property
            self.timeout = timeout
        }
    }
    /// Result.
    public struct Result: Codable, Sendable, Hashable {
        /// The value.
        public var value: JSONValue
        /// Creates a result.
        public init(value: JSONValue) { self.value = value }
    }
    public static let name = "instrument.get"
    public static let summary = "Reads a property. Needs no lease: observers can always read."
    public static let errors: [ErrorCode] = [.notFound, .deadlineExceeded, .timeout, .deviceGone, .driverFault]
    public static let exampleParams = Params(instrument: "heater-1", property: "temperature")
    public static let exampleResult = Result(value: 23.5)

    public static func params(fromTree tree: JSONValue) -> Params? {
        guard case .object(let members) = tree, case .string(let instrument)? = members["instrument"],
            case .string(let property)? = members["property"], let timeout = WireTree.optionalNumber(members["timeout"])
        else { return nil }
        return Params(instrument: instrument, property: property, timeout: timeout)
    }

    public static func tree(of result: Result) -> JSONValue? { ["value": result.value] }

    public static func tree(ofParams params: Params) -> JSONValue? {
        var members: [String: JSONValue] = ["instrument": .string(params.instrument), "property": .string(params.property)]
        if let timeout = params.timeout { members["timeout"] = .double(timeout) }
        return .object(members)
    }

    public static func result(fromTree tree: JSONValue) -> Result? {
        guard case .object(let members) = tree, let value = members["value"] else { return nil }
        return Result(value: value)
    }
}

/// `instrument.set`: writes a property.
public enum SetProperty: WireMethod {
    /// Parameters.
    public struct Params: Codable, Sendable, Hashable {
        /// The instrument.
        public var instrument: String
        /// The property.
        public var property: String
        /// The new value; checked against the property's schema.
        public var value: JSONValue
        /// Seconds the write may take.
        public var timeout: Double?
        /// The lease to act under, when this connection did not take it.
        public var leaseToken: String?
        /// Creates parameters.
        public init(instrument: String, property: String, value: JSONValue, timeout: Double? = nil, leaseToken: String? = nil) {
            self.instrument = instrument
            self.property = property
            self.value = value
            self.timeout = timeout
            self.leaseToken = leaseToken
        }
    }
    public typealias Result = Empty
    public static let name = "instrument.set"
    public static let summary = "Writes a property. Needs the caller's lease."
    public static let errors: [ErrorCode] = [
        .notFound, .invalidArgument, .leaseRequired, .leaseRevoked, .deadlineExceeded, .deviceGone, .driverFault,
    ]
    public static let exampleParams = Params(instrument: "heater-1", property: "setpoint", value: 40)
    public static let exampleResult = Empty()

    public static func params(fromTree tree: JSONValue) -> Params? {
        // A `null` value is refused by `Codable` (a non-optional member): left to it.
        guard case .object(let members) = tree, case .string(let instrument)? = members["instrument"],
            case .string(let property)? = members["property"], let value = members["value"], value != .null,
            let timeout = WireTree.optionalNumber(members["timeout"]), let leaseToken = WireTree.optionalString(members["leaseToken"])
        else { return nil }
        return Params(instrument: instrument, property: property, value: value, timeout: timeout, leaseToken: leaseToken)
    }

    public static func tree(of result: Empty) -> JSONValue? { .object([:]) }

    public static func tree(ofParams params: Params) -> JSONValue? {
        var members: [String: JSONValue] = [
            "instrument": .string(params.instrument), "property": .string(params.property), "value": params.value,
        ]
        if let timeout = params.timeout { members["timeout"] = .double(timeout) }
        if let leaseToken = params.leaseToken { members["leaseToken"] = .string(leaseToken) }
        return .object(members)
    }

    public static func result(fromTree tree: JSONValue) -> Empty? {
        guard case .object = tree else { return nil }
        return Empty()
    }
}

/// Reading optional members of a request's tree the way `Codable` does: `.some(nil)` for
/// absent or `null`, `nil` when the member has another type (left to `Codable`). A
/// `JSONValue?` member is absent for `null` too (`optionalValue`; mind that `JSONValue` takes
/// the `nil` literal as `.null`).
enum WireTree {
    /// The member's number, or nil for absent and `null`.
    static func optionalNumber(_ member: JSONValue?) -> Double?? {
        switch member {
        case nil, .null?: .some(nil)
        case .int(let number)?: Double(number)
        case .double(let number)?: number
        default: nil
        }
    }

    /// The member's boolean, or nil for absent and `null`.
    static func optionalBool(_ member: JSONValue?) -> Bool?? {
        switch member {
        case nil, .null?: .some(nil)
        case .bool(let flag)?: flag
        default: nil
        }
    }

    /// The member's integer, or nil for absent and `null`.
    static func optionalInt(_ member: JSONValue?) -> Int?? {
        switch member {
        case nil, .null?: .some(nil)
        case .int(let number)?: number
        default: nil
        }
    }

    /// The member's strings, or nil for absent and `null`.
    static func optionalStrings(_ member: JSONValue?) -> [String]?? {
        switch member {
        case nil, .null?: return .some(nil)
        case .array(let items)?:
            var strings: [String] = []
            strings.reserveCapacity(items.count)
            for item in items {
                guard case .string(let text) = item else { return nil }
                strings.append(text)
            }
            return strings
        default: return nil
        }
    }

    /// The member itself, or nil for absent and `null` (a `JSONValue?` member).
    static func optionalValue(_ member: JSONValue?) -> JSONValue? {
        switch member {
        case nil, .null?: nil
        case let value?: value
        }
    }

    /// The member's string, or nil for absent and `null`.
    static func optionalString(_ member: JSONValue?) -> String?? {
        switch member {
        case nil, .null?: .some(nil)
        case .string(let text)?: text
        default: nil
        }
    }
}
