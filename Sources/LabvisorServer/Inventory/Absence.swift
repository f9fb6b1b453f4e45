import Foundation

/// Why and since when an instrument's device is away (state `gone`), and until when the
/// instrument is kept for the device to come back.
public struct Absence: Sendable, Hashable {
    /// When the device went away.
    public var since: Date
    /// What reported it ("unplugged (udev remove)", "simulator unplugged", the driver's error).
    public var reason: String
    /// When the grace period ends: the instrument is removed then unless the device is back.
    public var graceEnds: Date

    /// An instrument's attachment bookkeeping, behind its lock.
    struct State: Sendable {
        /// The absence now, `nil` while the device is present.
        var current: Absence?
        /// Counts re-attachments, so a late `deviceGone` from a driver of an earlier
        /// attachment does not mark the re-attached device gone.
        var attachment: UInt64 = 0
        /// The grace period's end, scheduled on `DeadlineScheduler.shared`.
        var expiry: DeadlineScheduler.Token?
        /// Shutting the old driver down (`SharedSession.lose`); a re-attach waits for it.
        var loss: Task<Void, Never>?
        /// The grace period ended and the instrument is being removed: too late to re-attach.
        var removed = false
    }
}
