import Logging
import ServiceLifecycle
import UnixSignals

/// Reloads the configuration on `SIGHUP` (`systemctl reload labvisord`, the unit's
/// `ExecReload=`), one reload at a time, and keeps the signal from killing the daemon (its
/// default action). Under systemd it brackets each reload with `RELOADING=1` (and
/// `MONOTONIC_USEC=`) and `READY=1`, as `sd_notify(3)` asks; the outcome is logged and
/// audited by `ConfigurationReload`.
public struct HangupSignalService: Service {
    private let reload: ConfigurationReload
    private let notifier: SystemdNotifier?
    private let logger: Logger

    /// Creates the service.
    ///
    /// - Parameter notifier: where `RELOADING=1` and `READY=1` go; `nil`: nowhere.
    public init(reload: ConfigurationReload, notifier: SystemdNotifier?, logger: Logger = Logger(label: "labvisor.reload")) {
        self.reload = reload
        self.notifier = notifier
        self.logger = logger
    }

    public func run() async throws {
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        await cancelWhenGracefulShutdown {
            for await _ in hangups {
                await handleHangup()
            }
        }
    }

    /// One reload, told to systemd.
    func handleHangup() async {
        logger.info("SIGHUP: re-reading the configuration\(reload.file.map { " \($0)" } ?? "")")
        notify([.reloading, .monotonicNow])
        _ = await reload.reload(by: "SIGHUP")
        notify([.ready])
    }

    private func notify(_ notifications: [SystemdNotification]) {
        guard let notifier else { return }
        do {
            try notifier.send(notifications)
        } catch {
            logger.warning("\(error.message)")
        }
    }
}
