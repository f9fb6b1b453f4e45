import NIOCore
import NIOPosix

/// Runs Swift concurrency's tasks on the daemon's NIO event loops.
///
/// The wire's request path hops between the event loop (reading and writing the socket) and
/// tasks (supervisor, call queue, driver actors). On the default global executor every hop
/// is a thread wake-up (a futex, an eventfd) on another thread; with the event loops as the
/// global executor, a call's task runs on an event loop thread and its response is written
/// without a hop when it runs on the connection's own loop. Measured in docs/benchmarks.md
/// ("Wire").
public enum EventLoopExecutor {
    /// Installs NIO's singleton event loop group as the global executor. Must be the first
    /// thing the process does, before any task runs; later it does nothing.
    ///
    /// - Returns: whether it was installed.
    @discardableResult
    public static func install() -> Bool {
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }
}
