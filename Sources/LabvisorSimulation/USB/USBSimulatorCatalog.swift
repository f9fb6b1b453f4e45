import LabvisorCore
import LabvisorHardware

/// A simulated USB instrument, ready to plug into a umockdev testbed with
/// `SimulatedUSBDevice(testbed:descriptors:behavior:kernelDrivers:)`.
public struct USBSimulation: Sendable {
    /// What the device reports.
    public var descriptors: SimulatedUSBDescriptors
    /// Its device side.
    public var behavior: any USBDeviceBehavior
    /// Kernel drivers bound at plug-in (interface: driver), as the real kernel would bind them.
    public var kernelDrivers: [UInt8: String]

    /// Creates a simulation.
    public init(descriptors: SimulatedUSBDescriptors, behavior: any USBDeviceBehavior, kernelDrivers: [UInt8: String] = [:]) {
        self.descriptors = descriptors
        self.behavior = behavior
        self.kernelDrivers = kernelDrivers
    }
}

/// The simulators of USB instruments, by driver id: the USB counterpart of
/// `SimulatorCatalog` (which runs serial simulators on PTYs). A USB simulator needs a umockdev
/// testbed (tests, benchmarks), so `labvisor simulate` does not serve them.
public struct USBSimulatorCatalog: Sendable {
    /// One simulator.
    public struct Entry: Sendable {
        /// The driver id it simulates.
        public let id: String
        /// One line saying what it simulates.
        public let summary: String
        /// Makes a fresh device.
        public let make: @Sendable () -> USBSimulation

        /// Creates an entry.
        public init(id: String, summary: String, make: @escaping @Sendable () -> USBSimulation) {
            self.id = id
            self.summary = summary
            self.make = make
        }
    }

    /// The entries, by id.
    public let entries: [String: Entry]

    /// A catalog of `entries` (the first of two with one id wins).
    public init(_ entries: [Entry]) {
        self.entries = Dictionary(entries.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The ids, sorted.
    public var ids: [String] { entries.keys.sorted() }

    /// The entry for `id`.
    /// - Throws: `notFound` listing the simulators there are.
    public func entry(_ id: String) throws(LabvisorError) -> Entry {
        guard let entry = entries[id] else {
            var error = LabvisorError.notFound("USB simulator", id)
            error.message += " (known: \(ids.joined(separator: ", ")))"
            throw error
        }
        return entry
    }
}
