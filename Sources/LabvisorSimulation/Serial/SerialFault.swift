/// A fault a test injects into a `SimulatedSerialDevice`, to reach a driver's error paths.
/// Each applies to the next request(s) the device answers.
public enum SerialFault: Sendable, Hashable {
    /// The next `count` requests get no reply at all (the driver times out).
    case noReply(count: Int)
    /// The next reply is replaced with these bytes (garbage, or a device error reply).
    case replaceReply([UInt8])
    /// These bytes are sent before the next reply (noise on the line).
    case prefixGarbage([UInt8])
    /// The next reply is held back this long (a stalled device).
    case stall(Duration)
    /// The next reply is cut after this many bytes, and the rest never comes.
    case truncateReply(Int)
    /// The device is unplugged when the next request arrives (the master side hangs up).
    case unplugOnNextRequest
}
