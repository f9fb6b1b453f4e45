/// A running driver as the daemon uses it, whatever its type: described by its interface,
/// called by method and property name with JSON arguments.
public protocol HostedInstrument: AnyObject, Sendable {
    /// The instrument's name.
    var instrument: String { get }
    /// The declared methods and properties.
    var interface: InstrumentInterface { get }
    /// What the device said it is when the driver opened.
    var identification: InstrumentIdentification { get }
    /// The instrument's data streams (camera frames), by name.
    var streams: FrameStreams { get }

    /// Calls `method` with `arguments`, checked against its schema first, in turn on the
    /// instrument's call queue (immediate methods interrupt the call in progress).
    ///
    /// - Parameter timeout: covers the wait in the queue and the run; past it the call is
    ///   cancelled in the driver and throws `deadlineExceeded`.
    func invoke(_ method: String, arguments: [String: JSONValue], timeout: Duration?) async throws -> JSONValue

    /// Queues `method` and returns its call id at once; the outcome is published as an event.
    func invokeOneway(_ method: String, arguments: [String: JSONValue], timeout: Duration?) throws -> UInt64

    /// Reads a property, in turn on the call queue.
    func read(_ property: String, timeout: Duration?) async throws -> JSONValue

    /// Writes a property (checked against its schema first), in turn on the call queue.
    func write(_ property: String, value: JSONValue, timeout: Duration?) async throws

    /// Ends every call with `deviceGone` (the device was unplugged).
    func deviceGone(_ reason: String)

    /// Interrupts the call in progress, fails waiting calls, puts the device in its safe
    /// state and closes the transport. Idempotent; later calls fail with `closed`.
    ///
    /// - Parameter timeout: for the driver's `shutdown()`.
    /// - Throws: what the driver's `shutdown()` threw (the transport is closed anyway).
    func shutdown(timeout: Duration) async throws
}
