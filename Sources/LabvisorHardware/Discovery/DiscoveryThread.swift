#if canImport(Glibc)
    import Glibc
#endif
import LabvisorCore

/// Starts a detached POSIX thread for discovery's blocking `poll()` loop, so it never
/// blocks a thread of Swift's cooperative pool (two cores here).
enum DiscoveryThread {
    /// The body, boxed to pass through `pthread_create`'s `void *`.
    private final class Body: Sendable {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    /// Runs `body` on a new detached thread.
    static func start(_ body: @escaping @Sendable () -> Void) throws(LabvisorError) {
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
            throw LabvisorError(.resourceExhausted, "pthread_create failed", fields: ["errno": .int(Int(result))])
        }
        pthread_detach(thread)
    }
}
