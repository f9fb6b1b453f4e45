/// The instrument a simulator fault is injected into.
public struct SimulatorFaultParams: Codable, Sendable, Hashable {
    /// A simulated instrument's name (`simulate = "<driver-id>"` in the configuration).
    public var instrument: String
    /// Creates parameters.
    public init(instrument: String) { self.instrument = instrument }
}

/// What a simulator fault left behind.
public struct SimulatorFaultResult: Codable, Sendable, Hashable {
    /// The instrument.
    public var instrument: String
    /// Its lifecycle state now (`gone` after an unplug; `discovered` or `ready` after a replug).
    public var state: String
    /// Creates a result.
    public init(instrument: String, state: String) {
        self.instrument = instrument
        self.state = state
    }
}

/// `simulator.unplug`: pulls a simulated instrument's device out (administration, demo and tests).
public enum UnplugSimulator: WireMethod {
    public typealias Params = SimulatorFaultParams
    public typealias Result = SimulatorFaultResult
    public static let name = "simulator.unplug"
    public static let summary = """
        Unplugs a simulated instrument's device, as if its USB cable were pulled: the simulator's \
        PTY hangs up, calls in progress and waiting fail with `deviceGone`, and the instrument is \
        `gone` until `simulator.replug` or the end of the grace period (then it is removed). Leases \
        on it are kept. Only for simulated instruments (`simulate =` in the configuration, \
        `labvisord --demo`); returns once the driver is down.
        """
    public static let errors: [ErrorCode] = [.notFound, .unavailable]
    public static let exampleParams = Params(instrument: "stage-x")
    public static let exampleResult = Result(instrument: "stage-x", state: "gone")
}

/// `simulator.replug`: plugs an unplugged simulated instrument's device back in.
public enum ReplugSimulator: WireMethod {
    public typealias Params = SimulatorFaultParams
    public typealias Result = SimulatorFaultResult
    public static let name = "simulator.replug"
    public static let summary = """
        Plugs a simulated instrument's device back in on a new PTY, with the state it had (a \
        stage keeps its position). Within the grace period it re-attaches to the same instrument \
        (same name, leases kept); if connections still hold it, its driver is reopened before this \
        returns, so the state is `ready`. After the grace period it is added again.
        """
    public static let errors: [ErrorCode] = [.notFound, .unavailable]
    public static let exampleParams = Params(instrument: "stage-x")
    public static let exampleResult = Result(instrument: "stage-x", state: "ready")
}
