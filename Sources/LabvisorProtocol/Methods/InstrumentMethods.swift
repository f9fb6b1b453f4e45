/// An instrument as `instruments.list` reports it.
public struct InstrumentSummary: Codable, Sendable, Hashable {
    /// Its stable name.
    public var name: String
    /// `stage`, `laser`, `camera`, `sensor`, `other`.
    public var kind: String
    /// The driver id.
    public var driver: String
    /// The lifecycle state (`discovered`, `ready`, `busy`, `gone`, ...).
    public var state: String
    /// Tags from the config.
    public var tags: [String: JSONValue]
    /// The hardware identity (absent for a simulated instrument).
    public var identity: DeviceIdentity?
    /// Whether it runs against a simulator.
    public var simulated: Bool
    /// The lease that holds it, if any: id, holder, since.
    public var lease: LeaseHolder?

    /// Creates a summary.
    public init(
        name: String, kind: String, driver: String, state: String, tags: [String: JSONValue] = [:],
        identity: DeviceIdentity? = nil, simulated: Bool = false, lease: LeaseHolder? = nil
    ) {
        self.name = name
        self.kind = kind
        self.driver = driver
        self.state = state
        self.tags = tags
        self.identity = identity
        self.simulated = simulated
        self.lease = lease
    }
}

/// Who holds a lease, as other clients see it.
public struct LeaseHolder: Codable, Sendable, Hashable {
    /// The lease id.
    public var lease: String
    /// The holder (`uid 1000 pid 4242`, or a TCP principal).
    public var holder: String
    /// When it was granted (seconds since 1970).
    public var since: Double

    /// Creates a holder record.
    public init(lease: String, holder: String, since: Double) {
        self.lease = lease
        self.holder = holder
        self.since = since
    }
}

/// `instruments.list`: the inventory, optionally filtered by a requirements query.
public enum ListInstruments: WireMethod {
    /// Parameters.
    public struct Params: Codable, Sendable, Hashable {
        /// A requirements query (DESIGN.md "Requirements query"); all instruments when absent.
        public var `where`: JSONValue?
        /// Creates parameters.
        public init(where query: JSONValue? = nil) { self.where = query }
    }
    /// Result.
    public struct Result: Codable, Sendable, Hashable {
        /// The instruments, by name.
        public var instruments: [InstrumentSummary]
        /// Creates a result.
        public init(instruments: [InstrumentSummary]) { self.instruments = instruments }
    }
    public static let name = "instruments.list"
    public static let summary = "Lists the instruments, optionally only those matching a requirements query."
    public static let errors: [ErrorCode] = [.invalidArgument]
    public static let exampleParams = Params(where: ["kind": "stage", "tags.room": ["$in": ["B12", "B14"]]])
    public static let exampleResult = Result(instruments: [
        InstrumentSummary(name: "stage-x", kind: "stage", driver: "zaber-ascii", state: "ready", tags: ["room": "B12"], simulated: true)
    ])
}

/// `instruments.describe`: one instrument with its methods and properties.
public enum DescribeInstrument: WireMethod {
    /// Parameters.
    public struct Params: Codable, Sendable, Hashable {
        /// The instrument.
        public var instrument: String
        /// Creates parameters.
        public init(instrument: String) { self.instrument = instrument }
    }
    /// Result.
    public struct Result: Codable, Sendable, Hashable {
        /// As in the list.
        public var summary: InstrumentSummary
        /// What the device reported when its driver last opened (absent before).
        public var identification: JSONValue?
        /// The declared methods and properties.
        public var interface: InstrumentInterface
        /// Creates a result.
        public init(summary: InstrumentSummary, identification: JSONValue?, interface: InstrumentInterface) {
            self.summary = summary
            self.identification = identification
            self.interface = interface
        }
    }
    public static let name = "instruments.describe"
    public static let summary = "Describes an instrument: identity, state, lease, and every method and property with its schema."
    public static let errors: [ErrorCode] = [.notFound]
    public static let exampleParams = Params(instrument: "heater-1")
    public static let exampleResult = Result(
        summary: InstrumentSummary(name: "heater-1", kind: "sensor", driver: "example-heater", state: "ready", simulated: true),
        identification: ["model": "TC-1", "serialNumber": "TC1-0042", "firmware": "1.2.0", "details": [:]],
        interface: InstrumentInterface(
            driver: "example-heater",
            methods: [
                MethodSchema(
                    name: "rampTo", summary: "sets the set-point, heats, and returns once the temperature is within tolerance",
                    arguments: [
                        ArgumentSchema(name: "celsius", summary: "temperature to reach", value: ValueSchema(kind: .double, unit: "°C", minimum: 0, maximum: 150)),
                        ArgumentSchema(name: "tolerance", summary: "how close counts as reached", value: ValueSchema(kind: .double, unit: "°C", minimum: 0.01, maximum: 10), defaultValue: 0.5),
                    ],
                    result: ValueSchema(kind: .double, unit: "°C"))
            ],
            properties: [PropertySchema(name: "temperature", summary: "measured temperature", value: ValueSchema(kind: .double, unit: "°C"))]))
}
