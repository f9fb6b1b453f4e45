import LabvisorHardware

/// A simulator running on a PTY, whatever its model: what `labvisor simulate` and the
/// daemon's demo mode hold.
public protocol RunningSimulator: AnyObject, Sendable {
    /// The node a serial program opens.
    var path: String { get }
    /// Makes `link` a symbolic link to `path`, removed on `stop()`.
    func link(at link: String) throws(LabvisorError)
    /// Unplugs the device (the port's calls fail with `deviceGone`).
    func unplug()
    /// Stops answering and hangs up.
    func stop()
    /// The same device plugged in again: a new simulator, answering on a new PTY, that starts
    /// from this one's state (a stage keeps its position). This one stays unplugged.
    ///
    /// - Throws: `unavailable` when no PTY can be opened.
    func replugged(on reactor: IOReactor) throws(LabvisorError) -> any RunningSimulator
}

extension SimulatedSerialDevice: RunningSimulator {
    public func replugged(on reactor: IOReactor) throws(LabvisorError) -> any RunningSimulator {
        let device = try SimulatedSerialDevice(model: withModel { $0 }, reactor: reactor)
        device.start()
        return device
    }
}

/// The simulators that can run on a PTY, by driver id.
public struct SimulatorCatalog: Sendable {
    /// One simulator, type-erased.
    public struct Entry: Sendable {
        /// The driver id whose device it simulates.
        public let id: String
        /// What it simulates, for users.
        public let summary: String
        /// Creates and starts a simulated device.
        public let start: @Sendable (IOReactor) throws -> any RunningSimulator

        /// An entry that runs `makeModel()` on a PTY.
        public init<Model: SerialDeviceModel>(id: String, summary: String, makeModel: @escaping @Sendable () -> Model) {
            self.id = id
            self.summary = summary
            start = { reactor in
                let device = try SimulatedSerialDevice(model: makeModel(), reactor: reactor)
                device.start()
                return device
            }
        }
    }

    /// The entries, by id.
    public let entries: [String: Entry]

    /// A catalog of `simulators`.
    public init(_ simulators: [Entry]) {
        entries = Dictionary(simulators.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The ids, sorted.
    public var ids: [String] { entries.keys.sorted() }

    /// The entry for `id`.
    ///
    /// - Throws: `notFound` listing the simulators there are.
    public func entry(_ id: String) throws(LabvisorError) -> Entry {
        guard let entry = entries[id] else {
            var error = LabvisorError.notFound("simulator", id)
            error.message += " (simulators: \(ids.joined(separator: ", ")))"
            throw error
        }
        return entry
    }
}
