import LabvisorCore
import Logging
import ServiceLifecycle

/// USB device discovery with libudev: a coldplug scan at start, then hotplug from a udev
/// monitor, reported as `DiscoveryEvent`s on `events`.
///
/// The tty nodes and interfaces of one physical device are grouped under their usb_device
/// and reported once, when no event has come for the device for
/// `DiscoveryConfiguration.settleWindow`. Removed devices are kept for
/// `DiscoveryConfiguration.gracePeriod`. Nothing here opens a device node.
///
/// `run()` does the work (a swift-service-lifecycle `Service`): it blocks a dedicated thread
/// in `poll()` on the monitor fd and returns once that thread has ended and closed its fds,
/// after cancellation or graceful shutdown. `events` finishes when `run()` returns.
public final class UdevDiscovery: Service, Sendable {
    /// The timing rules.
    public let configuration: DiscoveryConfiguration
    /// Every discovery event, in order: `added` for each device present at start, then
    /// `coldplugComplete`, then hotplug events. Meant for one reader (the supervisor); it
    /// buffers without bound, which is fine at the rate devices are plugged in.
    public let events: AsyncStream<DiscoveryEvent>

    private let continuation: AsyncStream<DiscoveryEvent>.Continuation
    private let started = LockedState(false)
    private let logger: Logger

    /// Creates a discovery; nothing happens until `run()`.
    public init(configuration: DiscoveryConfiguration = DiscoveryConfiguration(), logger: Logger? = nil) {
        self.configuration = configuration
        self.logger = logger ?? Logger(label: "labvisor.discovery")
        (events, continuation) = AsyncStream.makeStream(of: DiscoveryEvent.self, bufferingPolicy: .unbounded)
    }

    /// Scans, then watches for hotplug until the task is cancelled or a graceful shutdown
    /// begins. Throws `unavailable` when udev cannot be used, or when called a second time.
    public func run() async throws {
        let first = started.withLock { started in
            defer { started = true }
            return !started
        }
        guard first else { throw LabvisorError(.unavailable, "UdevDiscovery.run() was already called") }
        defer { continuation.finish() }
        let stop = try StopSignal()
        defer { stop.close() }  // after the thread has ended: `run` waits for it below
        let (configuration, continuation, logger) = (self.configuration, self.continuation, self.logger)
        try await cancelWhenGracefulShutdown {
            try await withTaskCancellationHandler {
                // The thread resumes this exactly once, when it ends; cancellation makes it end.
                try await withThrowingWaitContinuation { (ended: WaitContinuation<Void, any Error>) in
                    do {
                        try DedicatedThread.start("discovery") {
                            do {
                                try UdevMonitorLoop.run(configuration: configuration, stop: stop) { event in
                                    logger.debug("discovery", metadata: ["event": "\(event)"])
                                    continuation.yield(event)
                                }
                                ended.resume()
                            } catch {
                                ended.resume(throwing: error)
                            }
                        }
                    } catch {
                        ended.resume(throwing: error)
                    }
                }
            } onCancel: {
                stop.signal()
            }
        }
    }
}
