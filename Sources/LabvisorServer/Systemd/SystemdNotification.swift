import Foundation

/// One state change told to systemd through `$NOTIFY_SOCKET` (`sd_notify(3)`).
public enum SystemdNotification: Sendable, Hashable {
    /// `READY=1`: start-up is finished (a `Type=notify` unit becomes active).
    case ready
    /// `STATUS=...`: one line that `systemctl status` shows.
    case status(String)
    /// `WATCHDOG=1`: the service is alive (due every `WATCHDOG_USEC / 2`).
    case watchdog
    /// `STOPPING=1`: shutdown has begun.
    case stopping
    /// `RELOADING=1`: the configuration is being re-read (`READY=1` follows when done).
    case reloading
    /// `MONOTONIC_USEC=...`: `CLOCK_MONOTONIC` now, in microseconds; systemd 253 and later
    /// want it beside `RELOADING=1` (`sd_notify(3)`), older ones ignore it.
    case monotonicMicroseconds(UInt64)

    /// The datagram's text. A status's line breaks become spaces: the protocol is one
    /// `KEY=VALUE` per line.
    public var line: String {
        switch self {
        case .ready: "READY=1"
        case .status(let text): "STATUS=" + text.map { $0.isNewline ? " " : String($0) }.joined()
        case .watchdog: "WATCHDOG=1"
        case .stopping: "STOPPING=1"
        case .reloading: "RELOADING=1"
        case .monotonicMicroseconds(let value): "MONOTONIC_USEC=\(value)"
        }
    }

    /// `MONOTONIC_USEC=` with `CLOCK_MONOTONIC` now.
    public static var monotonicNow: SystemdNotification {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return .monotonicMicroseconds(UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000)
    }
}
