/// The phase of a long-running thing (the daemon, a driver session, an acquisition stream).
public enum RunPhase: String, Sendable, Codable, CaseIterable {
    /// Created, not started.
    case idle
    /// Its body is running.
    case running
    /// Cancellation was requested; the body is winding down.
    case stopping
    /// Its body has ended (or it was cancelled before it started).
    case stopped
}
