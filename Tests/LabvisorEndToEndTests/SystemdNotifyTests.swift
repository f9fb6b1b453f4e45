import Foundation
import LabvisorClient
import LabvisorServer
import Logging
import ServiceLifecycle
import Testing

/// The systemd notifier, with the test playing systemd's side of `$NOTIFY_SOCKET`: first the
/// real daemon process, then the service in-process for what a process cannot show (a
/// readiness condition that holds READY=1 back, a stalled supervisor that stops the pings).
@Suite("SystemdNotifyTests", .timeLimit(.minutes(2)))
struct SystemdNotifyTests {
    /// READY=1 only once the socket accepts connections, STATUS= with instrument and client
    /// counts, WATCHDOG=1 at half of WATCHDOG_USEC, STOPPING=1 on SIGTERM, exit 0.
    @Test(arguments: [false, true])
    func daemonSequence(abstractSocket: Bool) async throws {
        let systemd = try NotifySocketListener(abstract: abstractSocket)
        let daemon = try await DaemonProcess(
            environment: ["NOTIFY_SOCKET": systemd.name, "WATCHDOG_USEC": "600000"], waitForSocket: false)
        let start = try await systemd.receive(until: "READY=1", within: .seconds(30))
        // READY=1 means listening: the first connection attempt must succeed.
        let client = try await daemon.connect()
        let ready = try #require(start.last)
        let status = try #require(ready.lines.first { $0.hasPrefix("STATUS=") }, "STATUS= comes with READY=1: \(ready.lines)")
        let count = try await client.list().count
        #expect(count >= 4)
        #expect(status == "STATUS=\(count) instruments (\(count) discovered), 0 clients, 0 leases")

        // The connected client shows in the next status line; pings keep coming meanwhile.
        _ = try await systemd.receive(
            until: "STATUS=\(count) instruments (\(count) discovered), 1 client, 0 leases", within: .seconds(10))
        // Arrival times are the kernel's (SO_TIMESTAMP), so a busy test does not skew them.
        var pings: [Double] = []
        while pings.count < 6 {
            let message = try await systemd.receive(within: .seconds(5))
            if message.lines.contains("WATCHDOG=1") { pings.append(message.arrival) }
        }
        let intervals = zip(pings.dropFirst(), pings).map { $0 - $1 }.sorted()
        // The median: one ping late under load (and the next one then early) does not count.
        let median = intervals[intervals.count / 2]
        #expect(median >= 0.25 && median <= 0.9, "pinged every 300 ms: \(intervals) s")
        #expect(intervals.last! < 3, "no ping missing for 10 intervals: \(intervals) s")

        // `systemctl reload` (SIGHUP) re-reads the configuration: RELOADING=1 with
        // MONOTONIC_USEC= (CLOCK_MONOTONIC, as sd_notify(3) asks), then READY=1 once done; the
        // daemon keeps serving.
        var before = timespec()
        clock_gettime(CLOCK_MONOTONIC, &before)
        kill(daemon.pid, SIGHUP)
        let reload = try await systemd.receive(until: "READY=1", within: .seconds(15))
        var after = timespec()
        clock_gettime(CLOCK_MONOTONIC, &after)
        let reloading = try #require(reload.firstIndex { $0.lines.contains("RELOADING=1") }, "\(reload.map(\.lines))")
        #expect(reloading < reload.count - 1, "READY=1 comes after RELOADING=1: \(reload.map(\.lines))")
        let stamp = try #require(reload[reloading].lines.first { $0.hasPrefix("MONOTONIC_USEC=") }.flatMap { UInt64($0.dropFirst(15)) })
        let microseconds = { (time: timespec) in UInt64(time.tv_sec) * 1_000_000 + UInt64(time.tv_nsec) / 1_000 }
        #expect(stamp >= microseconds(before) && stamp <= microseconds(after), "MONOTONIC_USEC= is the daemon's CLOCK_MONOTONIC at the reload")
        _ = try await systemd.receive(until: "WATCHDOG=1", within: .seconds(5))
        #expect(try await client.status().clients == 1)
        await client.close()

        async let exit = daemon.stop(signal: SIGTERM)
        let stopping = try await systemd.receive(until: "STOPPING=1", within: .seconds(15))
        #expect(!stopping.contains { $0.lines.contains("READY=1") || $0.lines.contains("RELOADING=1") })
        #expect(try await exit == 0, "\(daemon.logText)")
    }

    /// Without NOTIFY_SOCKET there is no notifier, so nothing is sent (the other end-to-end
    /// suites run the daemon that way).
    @Test func noNotifierWithoutNotifySocket() {
        #expect(SystemdNotifier(environment: [:]) == nil)
        #expect(SystemdNotifier(environment: ["NOTIFY_SOCKET": ""]) == nil)
        #expect(SystemdNotifier(environment: ["NOTIFY_SOCKET": "@x"])?.socket == "@x")
    }

    @Test func watchdogInterval() {
        #expect(SystemdWatchdog.pingInterval(environment: ["WATCHDOG_USEC": "20000000"]) == .seconds(10))
        #expect(SystemdWatchdog.pingInterval(environment: ["WATCHDOG_USEC": "600000", "WATCHDOG_PID": "\(getpid())"]) == .milliseconds(300))
        #expect(SystemdWatchdog.pingInterval(environment: ["WATCHDOG_USEC": "600000", "WATCHDOG_PID": "\(getpid() + 1)"]) == nil,
                "another process's watchdog")
        #expect(SystemdWatchdog.pingInterval(environment: ["WATCHDOG_USEC": "0"]) == nil)
        #expect(SystemdWatchdog.pingInterval(environment: ["WATCHDOG_USEC": "soon"]) == nil)
        #expect(SystemdWatchdog.pingInterval(environment: [:]) == nil)
    }

    @Test func badSocketNamesAreRefusedNamingTheSocket() {
        let relative = #expect(throws: LabvisorError.self) { try SystemdNotifier(socket: "run/notify").send(.ready) }
        #expect(relative?.code == .invalidArgument)
        #expect(relative?.message.contains("run/notify") == true)
        let long = #expect(throws: LabvisorError.self) { try SystemdNotifier(socket: "/" + String(repeating: "x", count: 200)).send(.ready) }
        #expect(long?.code == .invalidArgument)
        let nobody = #expect(throws: LabvisorError.self) { try SystemdNotifier(socket: "/nonexistent/notify.sock").send(.ready) }
        #expect(nobody?.code == .unavailable)
        #expect(SystemdNotification.status("a\nb").line == "STATUS=a b")
    }

    /// READY=1 waits for every readiness condition; graceful shutdown sends STOPPING=1.
    @Test func readyWaitsForEveryCondition() async throws {
        let systemd = try NotifySocketListener(abstract: true)
        let gate = Gate()
        let service = SystemdNotifierService(
            notifier: SystemdNotifier(socket: systemd.name), watchdogInterval: nil,
            readiness: [ReadinessCondition("listening") {}, ReadinessCondition("coldplug") { try await gate.wait() }],
            liveness: [], statusInterval: .milliseconds(20)
        ) { "status \(gate.isOpen)" }
        let group = ServiceGroup(services: [service], logger: Logger(label: "test"))
        let running = Task { try await group.run() }
        let early = await #expect(throws: LabvisorError.self) { try await systemd.receive(within: .milliseconds(300)) }
        #expect(early?.code == .timeout, "nothing before the coldplug condition holds")
        gate.open()
        let ready = try await systemd.receive(within: .seconds(10))
        #expect(ready.lines == ["READY=1", "STATUS=status true"])
        await group.triggerGracefulShutdown()
        let stopping = try await systemd.receive(within: .seconds(10))
        #expect(stopping.lines == ["STOPPING=1"])
        try await running.value
    }

    /// A liveness probe that stalls (a supervisor lock never released) stops the pings, so
    /// systemd would restart the daemon; they resume once it answers again.
    @Test func stalledProbeStopsTheWatchdog() async throws {
        let systemd = try NotifySocketListener(abstract: false)
        let gate = Gate()
        let stalls = LockedState(false)
        let service = SystemdNotifierService(
            notifier: SystemdNotifier(socket: systemd.name), watchdogInterval: .milliseconds(50), readiness: [],
            liveness: [LivenessProbe("stallable") { if stalls.withLock({ $0 }) { try await gate.wait() } }],
            statusInterval: .seconds(60)
        ) { "up" }
        let group = ServiceGroup(services: [service], logger: Logger(label: "test"))
        let running = Task { try await group.run() }
        _ = try await systemd.receive(until: "READY=1", within: .seconds(10))
        _ = try await systemd.receive(until: "WATCHDOG=1", within: .seconds(10))
        stalls.withLock { $0 = true }
        _ = await systemd.drain()  // pings sent before the stall
        // At most the ping already under way, then silence.
        var during: [String] = []
        let quiet = ContinuousClock.now + .milliseconds(500)
        while ContinuousClock.now < quiet, let message = try? await systemd.receive(within: quiet - .now) {
            during += message.lines
        }
        #expect(during.filter { $0 == "WATCHDOG=1" }.count <= 1, "pings while the probe stalls: \(during)")
        stalls.withLock { $0 = false }
        gate.open()
        _ = try await systemd.receive(until: "WATCHDOG=1", within: .seconds(10))
        await group.triggerGracefulShutdown()
        _ = try await systemd.receive(until: "STOPPING=1", within: .seconds(10))
        try await running.value
    }
}

/// A one-shot gate a task can wait on (cancellable).
private final class Gate: Sendable {
    private let state = LockedState((open: false, waiters: [UInt64: WaitContinuation<Void, any Error>](), next: UInt64(0)))

    var isOpen: Bool { state.withLock { $0.open } }

    func open() {
        let waiters = state.withLock { state in
            state.open = true
            defer { state.waiters = [:] }
            return state.waiters.values
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async throws {
        let state = self.state
        let id = state.withLock { state in
            state.next += 1
            return state.next
        }
        try await suspend(
            until: nil,
            register: { continuation in
                let now = state.withLock { state -> Bool in
                    if state.open { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if now { continuation.resume() }
            },
            expire: { _ in state.withLock { $0.waiters.removeValue(forKey: id) }?.resume(throwing: CancellationError()) })
    }
}
