import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// Runs Swift concurrency's tasks on the daemon's NIO event loops, as the generic executor.
///
/// The wire's request path hops between the event loop (reading and writing the socket) and
/// tasks (supervisor, call queue, drivers). On Dispatch's global executor every such hop is a
/// thread wake-up (a futex, an eventfd) on another thread; with the event loops as the global
/// executor, a call's task runs on the thread that read its request and its response is
/// written without a hop.
///
/// SwiftNIO offers this (`NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor`),
/// but it runs each job *isolated to the event loop* as a serial executor: then every entry
/// into a `nonisolated` async function is a switch away from that executor, which the runtime
/// can only make by enqueueing the task again (one more trip through the loop's queue per
/// function, eight or more per wire call, seen in `perf`). Here the same hook runs jobs on the
/// loop with the generic executor, as Dispatch's pool threads do, so those switches are free.
public enum EventLoopExecutor {
    /// How the runtime hands a job to the global executor (`swift_task_enqueueGlobal_hook`).
    private typealias EnqueueGlobalHook = @convention(thin) (UnownedJob, @convention(thin) (UnownedJob) -> Void) -> Void

    /// Installs NIO's singleton event loop group as the global executor. Must be the first
    /// thing the process does, on its main thread, before any task runs; later (or when
    /// another hook is installed) it does nothing.
    ///
    /// - Returns: whether it was installed.
    @discardableResult
    public static func install() -> Bool {
        guard MemoryLayout<UnownedSerialExecutor>.size == 2 * MemoryLayout<Int>.size,
            let symbol = dlsym(dlopen(nil, RTLD_NOW), "swift_task_enqueueGlobal_hook")
        else { return false }
        let slot = symbol.assumingMemoryBound(to: UnsafeRawPointer?.self)
        guard slot.pointee == nil else { return false }
        return withUnsafeTemporaryAllocation(of: EnqueueGlobalHook.self, capacity: 1) { hook in
            hook.baseAddress!.initialize(to: { job, _ in
                // `any()` is sticky: from an event loop thread it is that loop (no wake-up).
                MultiThreadedEventLoopGroup.singleton.any().execute { job.runSynchronously(on: genericExecutor) }
            })
            // The hook is a thin function pointer; the runtime reads it as a raw pointer. Only
            // the main thread runs here, before any task: a plain store is enough.
            hook.baseAddress!.withMemoryRebound(to: UnsafeRawPointer.self, capacity: 1) { slot.pointee = $0.pointee }
            return true
        }
    }
}

/// The runtime's generic executor (no identity, no implementation: `SerialExecutorRef::generic()`),
/// which Swift offers no public way to name.
private let genericExecutor = unsafeBitCast((0, 0) as (Int, Int), to: UnownedSerialExecutor.self)
