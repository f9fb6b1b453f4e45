/// The drivers a daemon can run, by manifest id, with their interfaces: what the supervisor
/// consults after matching has named a driver for a device.
public struct DriverCatalog: Sendable {
    /// One driver type, type-erased.
    public struct Entry: Sendable {
        /// The manifest id.
        public let id: String
        /// Its declared methods and properties.
        public let interface: InstrumentInterface
        /// Opens the driver on an open transport and hosts it behind a call queue.
        public let open: @Sendable (DriverContext, (any EventSink)?) async throws -> any HostedInstrument

        /// The entry for `Driver`.
        public init<Driver: InstrumentDriver>(_ driver: Driver.Type) {
            id = Driver.driverID
            interface = Driver.interface
            open = { context, events in try await DriverHost<Driver>.open(context, events: events) }
        }
    }

    /// The entries, by id.
    public let entries: [String: Entry]

    /// A catalog of `drivers` (the first of two with one id wins).
    public init(_ drivers: [Entry]) {
        entries = Dictionary(drivers.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The ids, sorted.
    public var ids: [String] { entries.keys.sorted() }

    /// The entry for `id`.
    ///
    /// - Throws: `notFound` listing the drivers there are.
    public func entry(_ id: String) throws(LabvisorError) -> Entry {
        guard let entry = entries[id] else {
            var error = LabvisorError.notFound("driver", id)
            error.message += " (known drivers: \(ids.joined(separator: ", ")))"
            throw error
        }
        return entry
    }
}
