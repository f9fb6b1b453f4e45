import CLibUSB
import LabvisorCore

#if canImport(Glibc)
    import Glibc
#endif

/// The one thread that runs libusb's event handling for a `USBContext`: it calls
/// `libusb_handle_events_timeout_completed` until `stop()`, so transfer callbacks run here.
///
/// `stop()` sets the stop flag, wakes the thread with `libusb_interrupt_event_handler` and
/// joins it. The thread holds no reference to the context object, only libusb's pointer, so
/// a `USBContext` can be released while it runs.
final class USBEventThread: Sendable {

    /// The thread body's view: the libusb context and the stop flag.
    private final class Loop: Sendable {
        let context: LibUSBPointer
        let stopRequested = LockedState(false)
        /// The running thread, until its loop has ended.
        let runningThread = LockedState<pthread_t?>(nil)

        init(context: LibUSBPointer) { self.context = context }

        func run() {
            runningThread.withLock { $0 = pthread_self() }
            defer { runningThread.withLock { $0 = nil } }
            // The interval only bounds how long a missed wake-up could delay a stop;
            // `libusb_interrupt_event_handler` ends the wait at once.
            var interval = timeval(tv_sec: 1, tv_usec: 0)
            while !stopRequested.withLock({ $0 }) {
                _ = libusb_handle_events_timeout_completed(context.raw, &interval, nil)
            }
        }
    }

    private let loop: Loop
    private let thread = LockedState<pthread_t?>(nil)

    /// Starts the thread for `context`.
    init(context: LibUSBPointer) throws(LabvisorError) {
        let loop = Loop(context: context)
        self.loop = loop
        let thread = try DedicatedThread.start("USB event", detached: false) { loop.run() }
        self.thread.withLock { $0 = thread }
    }

    /// Whether the caller runs on the event thread (a transfer callback), also while
    /// `stop()` waits for it.
    var isCurrent: Bool {
        guard let thread = loop.runningThread.withLock({ $0 }) else { return false }
        return pthread_equal(thread, pthread_self()) != 0
    }

    /// Stops the thread and waits until it has ended. Idempotent. Called on the event thread
    /// itself (from a transfer callback), it only requests the stop.
    func stop() {
        let thread: pthread_t? = self.thread.withLock { thread in
            defer { thread = nil }
            return thread
        }
        guard let thread else { return }
        loop.stopRequested.withLock { $0 = true }
        libusb_interrupt_event_handler(loop.context.raw)
        if pthread_equal(thread, pthread_self()) != 0 {
            pthread_detach(thread)
        } else {
            pthread_join(thread, nil)
        }
    }
}
