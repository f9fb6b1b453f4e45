#if canImport(Glibc)
    import Glibc
#endif
import LabvisorCore

/// Starts a POSIX thread for a loop that blocks (discovery's `poll()`, libusb's event
/// handling), so it never blocks a thread of Swift's cooperative pool (two cores here).
enum DedicatedThread {
    /// The body, boxed to pass through `pthread_create`'s `void *`.
    private final class Body: Sendable {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    /// Runs `body` on a new thread; `what` names it in the error. A detached thread cleans up
    /// after itself; a joinable one must be joined (`pthread_join`) with the returned id.
    @discardableResult
    static func start(
        _ what: String, detached: Bool = true, _ body: @escaping @Sendable () -> Void
    ) throws(LabvisorError) -> pthread_t {
        let box = Unmanaged.passRetained(Body(body)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(
            &thread, nil,
            { argument in
                let body = Unmanaged<Body>.fromOpaque(argument!).takeRetainedValue()
                body.run()
                return nil
            }, box)
        guard result == 0 else {
            Unmanaged<Body>.fromOpaque(box).release()
            throw LabvisorError(
                .resourceExhausted, "could not start the \(what) thread (pthread_create failed)",
                fields: ["errno": .int(Int(result))])
        }
        if detached { pthread_detach(thread) }
        return thread
    }
}
