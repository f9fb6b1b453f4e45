import LabvisorHardware

/// The device side of a serial instrument, as a value: its state, how it answers each
/// request, and what it sends on its own. `SimulatedSerialDevice` runs it on a PTY.
///
/// State evolves with time: every call gets `now`, so a move started at one request has
/// progressed by the next (position interpolated from velocity and acceleration), a laser
/// warms up, a status broadcast falls due.
public protocol SerialDeviceModel: Sendable {
    /// Cuts the bytes the host writes into requests (a line decoder, an APT decoder).
    associatedtype Decoder: FrameDecoder

    /// A fresh decoder (after a garbage error the device starts over).
    func makeDecoder() -> Decoder

    /// Answers one request at `now`: the bytes to write back (empty when the device stays
    /// silent).
    mutating func respond(to request: Decoder.Frame, at now: ContinuousClock.Instant) -> [UInt8]

    /// Bytes the device sends on its own by `now` (alerts, periodic status), called after
    /// each request and whenever `nextWakeup(after:)` falls due. Default: none.
    mutating func unsolicited(at now: ContinuousClock.Instant) -> [UInt8]

    /// When the device next wants to send something on its own; `nil` when it does not.
    func nextWakeup(after now: ContinuousClock.Instant) -> ContinuousClock.Instant?

    /// Answers input the decoder rejected (the device's reaction to garbage). Default: none.
    mutating func respondToGarbage(_ error: LabvisorError, at now: ContinuousClock.Instant) -> [UInt8]
}

extension SerialDeviceModel {
    public mutating func unsolicited(at now: ContinuousClock.Instant) -> [UInt8] { [] }
    public func nextWakeup(after now: ContinuousClock.Instant) -> ContinuousClock.Instant? { nil }
    public mutating func respondToGarbage(_ error: LabvisorError, at now: ContinuousClock.Instant) -> [UInt8] { [] }
}
