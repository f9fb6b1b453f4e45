#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// State guarded by a pthread mutex: the one lock of Labvisor.
///
/// Why not the standard library's `Synchronization.Mutex`: on Linux it is built on raw
/// futex system calls, which ThreadSanitizer cannot see, so TSan reports every access to
/// state it guards as a race (checked: two tasks incrementing a `Mutex<Int>` under
/// `-sanitize=thread` give a correct total and a race report). A pthread mutex is intercepted
/// by TSan, so `swift test --sanitize=thread` (run by `scripts/test.sh`) checks our locking
/// for real. The state and the mutex share one heap allocation (`LockStorage`, a
/// `ManagedBuffer`), as SwiftNIO's locks do; short-lived objects such as a call's
/// interruption pay one allocation for their lock, not two. Give it a state that is not
/// empty (not `Void`): an empty header has the mutex's address, and ThreadSanitizer then
/// takes the lock's own read of the mutex for a race with the body's access to the state.
public struct LockedState<State> {
    private let storage: LockStorage<State>

    /// Creates the lock with its initial state.
    public init(_ state: State) {
        storage = LockStorage.make(state)
    }

    /// Runs `body` with the state, holding the lock.
    @inline(__always)
    public func withLock<Result, Failure: Error>(
        _ body: (inout State) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try storage.withLock(body)
    }
}

/// `@unchecked Sendable` (for `Sendable` state only) is sound: the state is only read or
/// written inside `withLock`, which holds the mutex for the whole access, and the mutex is
/// tail-allocated in the storage object, so it never moves (a pthread mutex must not).
extension LockedState: @unchecked Sendable where State: Sendable {}

/// The state (as the buffer's header) and the pthread mutex (its one element), in one object.
final class LockStorage<State>: ManagedBuffer<State, pthread_mutex_t> {
    static func make(_ state: State) -> LockStorage<State> {
        let buffer = create(minimumCapacity: 1) { _ in state }
        // `create` returns the dynamic type it was called on: this class.
        let storage = unsafeDowncast(buffer, to: LockStorage<State>.self)
        storage.withUnsafeMutablePointerToElements { mutex in
            mutex.initialize(to: pthread_mutex_t())
            let result = pthread_mutex_init(mutex, nil)
            precondition(result == 0, "pthread_mutex_init failed: \(result)")
        }
        return storage
    }

    deinit {
        withUnsafeMutablePointerToElements { mutex in
            pthread_mutex_destroy(mutex)
            _ = mutex.deinitialize(count: 1)
        }
    }

    @inline(__always)
    func withLock<Result, Failure: Error>(_ body: (inout State) throws(Failure) -> Result) throws(Failure) -> Result {
        try withUnsafeMutablePointers { state, mutex throws(Failure) in
            pthread_mutex_lock(mutex)
            defer { pthread_mutex_unlock(mutex) }
            return try body(&state.pointee)
        }
    }
}
