import LabvisorHardware

/// The answer of a simulated device to a control request.
public enum USBControlReply: Sendable, Hashable {
    /// Device-to-host requests: the data stage (cut to `wLength`).
    case data([UInt8])
    /// Host-to-device requests: acknowledged (the status stage succeeds).
    case accept
    /// The request is refused: the host sees a STALL (`-EPIPE`).
    case stall
}

/// The answer of a simulated device to a bulk or interrupt IN request.
public enum USBInReply: Sendable, Hashable {
    /// The bytes sent (cut to the host's buffer length).
    case data([UInt8])
    /// Nothing to send yet (the device NAKs): the request stays pending and is offered again
    /// at the host's next request or reap, until it times out or is cancelled.
    case notReady
    /// The endpoint is halted: the host sees a STALL.
    case stall
}

/// The answer of a simulated device to a bulk or interrupt OUT transfer.
public enum USBOutReply: Sendable, Hashable {
    /// Accepted: every byte counts as sent.
    case accept
    /// The endpoint is halted: the host sees a STALL.
    case stall
}

/// What a simulated USB device does, beyond its descriptors: the device side that a
/// `SimulatedUSBDevice` calls for every request the host's driver makes.
///
/// The calls come on umockdev's ioctl thread, one at a time; implementations keep their
/// state behind a lock (`LockedState`). GET_DESCRIPTOR requests for the device, its
/// configurations and its strings are answered by `SimulatedUSBDevice` from its
/// `SimulatedUSBDescriptors` and never reach `control`.
public protocol USBDeviceBehavior: Sendable {
    /// A control request on endpoint 0 with its full setup packet; `data` is the host's data
    /// stage (host-to-device requests), empty otherwise.
    func control(_ setup: USBControlSetup, data: [UInt8]) -> USBControlReply

    /// A bulk or interrupt OUT transfer to `endpoint`.
    func transferOut(endpoint: UInt8, data: [UInt8]) -> USBOutReply

    /// A bulk or interrupt IN request on `endpoint` for up to `maxLength` bytes: produce them
    /// now, or say `notReady`.
    func transferIn(endpoint: UInt8, maxLength: Int) -> USBInReply
}

extension USBDeviceBehavior {
    /// By default every control request is stalled.
    public func control(_ setup: USBControlSetup, data: [UInt8]) -> USBControlReply { .stall }
    /// By default OUT data is accepted and dropped.
    public func transferOut(endpoint: UInt8, data: [UInt8]) -> USBOutReply { .accept }
    /// By default IN endpoints never have data.
    public func transferIn(endpoint: UInt8, maxLength: Int) -> USBInReply { .notReady }
}
