import Logging
import ServiceLifecycle

/// Tells systemd how the daemon is doing, over `$NOTIFY_SOCKET` (DESIGN.md "Process"):
///
/// - `READY=1` once every readiness condition holds (listeners up, coldplug done), with the
///   first `STATUS=` line;
/// - `STATUS=` again whenever the status text changes (checked every `statusInterval`);
/// - `WATCHDOG=1` every `watchdogInterval` (half of `$WATCHDOG_USEC`), from the start, each
///   ping only after every liveness probe has answered: when the supervisor stalls, so do
///   the pings;
/// - `STOPPING=1` as soon as graceful shutdown begins (list this service last in the
///   `ServiceGroup`, which shuts services down in reverse order).
///
/// Without a notifier (`$NOTIFY_SOCKET` unset) it sends nothing and waits for shutdown.
public struct SystemdNotifierService: Service {
    /// Where notifications go; `nil`: nowhere.
    public let notifier: SystemdNotifier?
    /// How often to ping the watchdog; `nil`: the watchdog is off.
    public let watchdogInterval: Duration?
    /// What must hold before `READY=1`, awaited in order.
    public let readiness: [ReadinessCondition]
    /// What must answer before each `WATCHDOG=1`.
    public let liveness: [LivenessProbe]
    /// The `STATUS=` text (instrument and client counts).
    public let status: @Sendable () -> String
    /// How often the status text is checked for a change.
    public let statusInterval: Duration
    private let logger: Logger

    /// Creates the service.
    public init(
        notifier: SystemdNotifier?, watchdogInterval: Duration?, readiness: [ReadinessCondition], liveness: [LivenessProbe],
        statusInterval: Duration = .seconds(1), logger: Logger = Logger(label: "labvisor.systemd"),
        status: @escaping @Sendable () -> String
    ) {
        self.notifier = notifier
        self.watchdogInterval = watchdogInterval
        self.readiness = readiness
        self.liveness = liveness
        self.statusInterval = statusInterval
        self.logger = logger
        self.status = status
    }

    public func run() async throws {
        guard let notifier else {
            try? await gracefulShutdown()
            return
        }
        let sender = NotificationSender(notifier: notifier, logger: logger)
        await withGracefulShutdownHandler {
            do {
                try await cancelWhenGracefulShutdown { try await self.serve(sender) }
            } catch is CancellationError {
            } catch {
                logger.error("systemd notifications stopped: \(error)")
            }
        } onGracefulShutdown: {
            sender.stopping()
        }
        sender.stopping()
    }

    private func serve(_ sender: NotificationSender) async throws {
        try await withThrowingDiscardingTaskGroup { group in
            if let watchdogInterval {
                logger.info("systemd watchdog: pinging every \(watchdogInterval)")
                group.addTask { try await self.pingWatchdog(sender, every: watchdogInterval) }
            }
            for condition in readiness {
                logger.debug("waiting for readiness: \(condition.name)")
                try await condition.wait()
            }
            var reported = status()
            sender.send(.ready, .status(reported))
            logger.info("told systemd READY=1: \(reported)")
            while true {
                try await Task.sleep(for: statusInterval)
                let now = status()
                if now != reported {
                    sender.send(.status(now))
                    reported = now
                }
            }
        }
    }

    private func pingWatchdog(_ sender: NotificationSender, every interval: Duration) async throws {
        while true {
            let started = ContinuousClock.now
            for probe in liveness {
                try await probe.check()
            }
            let took = ContinuousClock.now - started
            if took > interval {
                logger.warning("systemd watchdog: the liveness probes took \(took), more than the ping interval \(interval)")
            }
            sender.send(.watchdog)
            try await Task.sleep(for: interval)
        }
    }
}

/// Sends notifications, logging the first failure as an error and later ones at debug level
/// (a broken notify socket would otherwise log twice a second), and `STOPPING=1` only once.
private final class NotificationSender: Sendable {
    let notifier: SystemdNotifier
    let logger: Logger
    private let state = LockedState((failed: false, stopping: false))

    init(notifier: SystemdNotifier, logger: Logger) {
        self.notifier = notifier
        self.logger = logger
    }

    func send(_ notifications: SystemdNotification...) {
        do {
            try notifier.send(notifications)
        } catch {
            let first = state.withLock { state in
                defer { state.failed = true }
                return !state.failed
            }
            logger.log(level: first ? .error : .debug, "\(error.message)")
        }
    }

    func stopping() {
        let first = state.withLock { state in
            defer { state.stopping = true }
            return !state.stopping
        }
        if first { send(.stopping) }
    }
}
