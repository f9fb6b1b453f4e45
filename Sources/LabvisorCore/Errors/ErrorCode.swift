/// The stable error codes of Labvisor, shared by the daemon, the wire, the CLI and the
/// clients. The raw value is what travels on the wire; never rename a case.
public enum ErrorCode: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// No instrument, lease, method or property by that name.
    case notFound
    /// Another client holds the instrument's lease.
    case locked
    /// The call needs the caller's lease on the instrument, and it has none.
    case leaseRequired
    /// An administrator revoked the caller's lease.
    case leaseRevoked
    /// An argument, query or setting is malformed or out of range.
    case invalidArgument
    /// The instrument's driver declares no such method.
    case unknownMethod
    /// The call ran past its deadline and was cancelled in the driver.
    case deadlineExceeded
    /// A wait (for a lease, a seat, a reply) ran out of time.
    case timeout
    /// The device was unplugged or hung up.
    case deviceGone
    /// The driver or the device reported a failure.
    case driverFault
    /// The session, lease or stream was already closed.
    case closed
    /// A limit was reached (seats, clients, queue length, message size).
    case resourceExhausted
    /// The caller is known but not allowed to do this.
    case permissionDenied
    /// The caller could not be identified.
    case unauthenticated
    /// The service is shutting down, or the call was interrupted.
    case unavailable

    public var description: String { rawValue }
}
