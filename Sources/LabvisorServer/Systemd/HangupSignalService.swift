import Logging
import ServiceLifecycle
import UnixSignals

/// Keeps `SIGHUP` (`systemctl reload labvisord`, the unit's `ExecReload=`) from killing the
/// daemon, whose default action it would be. Configuration reload is not built yet (the
/// operations issue, deliverable 6): until it is, each SIGHUP logs a warning saying so.
public struct HangupSignalService: Service {
    private let logger: Logger

    /// Creates the service.
    public init(logger: Logger = Logger(label: "labvisor.reload")) {
        self.logger = logger
    }

    public func run() async throws {
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        await cancelWhenGracefulShutdown {
            for await _ in hangups {
                logger.warning("SIGHUP: configuration reload is not implemented yet; restart labvisord to apply a changed configuration")
            }
        }
    }
}
