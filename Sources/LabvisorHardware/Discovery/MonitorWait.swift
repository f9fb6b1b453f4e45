#if canImport(Glibc)
    import Glibc
#endif

/// Why `MonitorWait.wait(until:)` returned.
enum MonitorWakeReason: Sendable, Hashable {
    /// The monitor fd has data.
    case readable
    /// The deadline passed.
    case deadline
    /// Shutdown was signalled.
    case stopped
}

/// The one place where discovery blocks: `poll()` on the udev monitor fd and the stop
/// eventfd, with a timeout that carries the settle and grace-period deadlines.
///
/// This is the seam for the shared epoll `IOReactor` being built in parallel: when it
/// lands, discovery registers the monitor fd and a timer with the reactor instead, and this
/// type (and the dedicated thread) goes away; `DiscoveryTracker` and `UdevIdentityReader`
/// stay as they are.
struct MonitorWait {
    /// The udev monitor's fd (owned by the monitor).
    let monitorFD: Int32
    /// Wakes the wait for shutdown.
    let stop: StopSignal

    /// Blocks until the monitor is readable, `deadline` passes (`nil`: no deadline) or stop is signalled.
    func wait(until deadline: ContinuousClock.Instant?) -> MonitorWakeReason {
        while true {
            var fds = [
                pollfd(fd: stop.fileDescriptor, events: Int16(POLLIN), revents: 0),
                pollfd(fd: monitorFD, events: Int16(POLLIN), revents: 0),
            ]
            let result = poll(&fds, nfds_t(fds.count), Self.timeoutMilliseconds(until: deadline))
            if result < 0 {
                if errno == EINTR { continue }
                return .stopped  // poll itself failed: nothing sensible left but to end
            }
            if fds[0].revents != 0 { return .stopped }
            if fds[1].revents != 0 { return .readable }
            if let deadline, ContinuousClock.now >= deadline { return .deadline }
        }
    }

    /// Whether the monitor has data right now (a zero-timeout poll), so draining it never blocks.
    func hasData() -> Bool {
        var fd = pollfd(fd: monitorFD, events: Int16(POLLIN), revents: 0)
        return poll(&fd, 1, 0) > 0 && fd.revents & Int16(POLLIN) != 0
    }

    /// The poll timeout for `deadline`, rounded up to whole milliseconds; -1 for none. The
    /// rounding adds up to 1 ms to a settle deadline (`ppoll`, with nanoseconds, is not in
    /// Swift's Glibc module); the `discovery.hotplug` benchmark includes it.
    static func timeoutMilliseconds(until deadline: ContinuousClock.Instant?) -> Int32 {
        guard let deadline else { return -1 }
        let left = ContinuousClock.now.duration(to: deadline)
        if left <= .zero { return 0 }
        let (seconds, attoseconds) = left.components
        let milliseconds = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: milliseconds)
    }
}
