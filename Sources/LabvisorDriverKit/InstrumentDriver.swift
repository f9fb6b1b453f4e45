/// A driver: the code that speaks one instrument's protocol.
///
/// A driver is opened with a `DriverContext` (the transport its manifest asks for, already
/// open; a logger; its event publisher), identifies the device, serves its declared methods
/// and properties, and on `shutdown()` puts the device in its safe state. The host closes
/// the transport afterwards.
///
/// The host never calls a driver concurrently: calls go through the instrument's call queue
/// one at a time, except `immediate` methods, which first interrupt (cancel) the call in
/// progress. A driver may therefore keep plain state; making it an `actor` is the simple way
/// to satisfy `Sendable`. Every await in a driver may throw `CancellationError` or a
/// cancellation `LabvisorError`: that is how deadlines and immediate calls stop it.
public protocol InstrumentDriver: AnyObject, Sendable {
    /// The manifest id this driver implements (`drivers/<id>/driver.toml`).
    static var driverID: String { get }
    /// The methods, declared once: names, arguments (types, units, ranges, defaults), access.
    static var methods: [DriverMethod<Self>] { get }
    /// The properties, declared once.
    static var properties: [DriverProperty<Self>] { get }

    /// Opens the driver on an open transport: talks to the device enough to know it is the
    /// expected one and ready. Throw `driverFault` (or the transport's error) when it is not.
    init(context: DriverContext) async throws

    /// What the device says it is, as read from it.
    func identify() async throws -> InstrumentIdentification

    /// Puts the device in its safe state (laser emission off, motion stopped). Called once,
    /// at the end; it must not assume the previous call finished normally.
    func shutdown() async throws
}

extension InstrumentDriver {
    /// The interface the daemon describes and checks calls against.
    public static var interface: InstrumentInterface {
        InstrumentInterface(driver: driverID, methods: methods.map(\.schema), properties: properties.map(\.schema))
    }
}
