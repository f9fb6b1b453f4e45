import Foundation

/// Runs blocking work (a `poll`, a read to the end of a pipe) on a thread of its own.
///
/// Swift's tasks run on a pool as wide as the machine has cores (2 here), and on Linux the
/// Dispatch global queues share it: a blocking call in a task or on `DispatchQueue.global()`
/// holds one of those threads, and with the suite's tests running in parallel that starved
/// the others (timeouts in unrelated timing tests, a notifier test over its time limit).
public enum DedicatedThread {
    /// `body`'s result, computed on a new thread while the caller's task is suspended.
    public static func run<Value: Sendable>(_ body: @escaping @Sendable () throws -> Value) async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }

    /// `body`'s result, computed on a new thread while the caller's task is suspended.
    public static func run<Value: Sendable>(_ body: @escaping @Sendable () -> Value) async -> Value {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: body()) }.start()
        }
    }
}
