import Foundation

/// systemd's watchdog settings (`WatchdogSec=` in the unit): `$WATCHDOG_USEC` is the
/// timeout, and the service pings at half of it. `$WATCHDOG_PID`, when set, names the
/// process meant; another process (a child that inherited the variables) must not ping.
public enum SystemdWatchdog {
    /// How often to send `WATCHDOG=1`: half of `WATCHDOG_USEC`; `nil` when the watchdog is
    /// off, the value is not a positive number, or `WATCHDOG_PID` names another process.
    public static func pingInterval(
        environment: [String: String] = ProcessInfo.processInfo.environment, pid: Int32 = getpid()
    ) -> Duration? {
        guard let text = environment["WATCHDOG_USEC"], let microseconds = UInt64(text), microseconds > 0 else { return nil }
        if let owner = environment["WATCHDOG_PID"], !owner.isEmpty, Int32(owner) != pid { return nil }
        return .microseconds(Int64(clamping: microseconds / 2))
    }
}
