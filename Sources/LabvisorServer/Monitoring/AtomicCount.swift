import Synchronization

/// One counter that many threads add to without a lock (relaxed atomic adds: a metric needs
/// no ordering with anything else).
final class AtomicCount: Sendable {
    private let value = Atomic<Int>(0)

    /// Adds `amount`.
    func add(_ amount: Int = 1) {
        value.wrappingAdd(amount, ordering: .relaxed)
    }

    /// The count now.
    var current: Int { value.load(ordering: .relaxed) }
}
