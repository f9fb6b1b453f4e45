#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// State guarded by a pthread mutex: the one lock of Labvisor.
///
/// Why not the standard library's `Synchronization.Mutex`: on Linux it is built on raw
/// futex system calls, which ThreadSanitizer cannot see, so TSan reports every access to
/// state it guards as a race (checked: two tasks incrementing a `LockedState<Int>` under
/// `-sanitize=thread` give a correct total and a race report). A pthread mutex is intercepted
/// by TSan, so `swift test --sanitize=thread` (run by `scripts/test.sh`) checks our locking
/// for real. The cost is one allocation per guarded object; the lock itself is the same
/// futex underneath.
///
/// `@unchecked Sendable` (for `Sendable` state only) is sound: `state` is only read or
/// written inside `withLock`, which holds `mutex` for the whole access, and `mutex` lives at
/// a fixed heap address for the object's life (a pthread mutex must not move).
public final class LockedState<State> {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var state: State

    /// Creates the lock with its initial state.
    public init(_ state: State) {
        self.state = state
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let result = pthread_mutex_init(mutex, nil)
        precondition(result == 0, "pthread_mutex_init failed: \(result)")
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with the state, holding the lock.
    @inline(__always)
    public func withLock<Result, Failure: Error>(
        _ body: (inout State) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&state)
    }
}

extension LockedState: @unchecked Sendable where State: Sendable {}
