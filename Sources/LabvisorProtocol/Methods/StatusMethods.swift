/// `daemon.status`: the daemon's health, limits and seats left.
public enum DaemonStatus: WireMethod {
    public typealias Params = Empty
    /// Result.
    public struct Result: Codable, Sendable, Hashable {
        /// The daemon's version.
        public var version: String
        /// Seconds since it started.
        public var uptime: Double
        /// Connected clients, and the limit.
        public var clients: Int
        /// The most clients allowed.
        public var maxClients: Int
        /// Instruments in the inventory.
        public var instruments: Int
        /// Leases held.
        public var leases: Int
        /// Whether instruments run against simulators (`--demo`).
        public var demo: Bool
        /// How each simulated instrument is simulated, by name (a serial simulator on a PTY
        /// pair; a USB device in-process or under umockdev); absent when none is.
        public var simulations: [String: String]?
        /// Creates a result.
        public init(
            version: String, uptime: Double, clients: Int, maxClients: Int, instruments: Int, leases: Int, demo: Bool,
            simulations: [String: String]? = nil
        ) {
            self.version = version
            self.uptime = uptime
            self.clients = clients
            self.maxClients = maxClients
            self.instruments = instruments
            self.leases = leases
            self.demo = demo
            self.simulations = simulations
        }
    }
    public static let name = "daemon.status"
    public static let summary = "The daemon's version, uptime, clients and limits, instruments and leases."
    public static let errors: [ErrorCode] = []
    public static let exampleParams = Empty()
    public static let exampleResult = Result(version: "0.1.0", uptime: 3600.5, clients: 2, maxClients: 64, instruments: 4, leases: 1, demo: true,
        simulations: ["camera-1": "in-process USB simulator (not under umockdev)", "stage-x": "in-process serial simulator on a PTY pair"])
}
