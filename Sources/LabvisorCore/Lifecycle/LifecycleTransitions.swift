/// The one table of allowed lifecycle transitions. Every other pair of states, including
/// a state to itself, is illegal. `docs/lifecycle.md` draws it.
public enum LifecycleTransitions {
    /// For each state, the states it may move to.
    public static let allowed: [LifecycleState: Set<LifecycleState>] = [
        .discovered: [.opening, .gone],
        .opening: [.ready, .faulted, .closing, .gone],
        .ready: [.busy, .closing, .faulted, .gone],
        .busy: [.ready, .closing, .faulted, .gone],
        .closing: [.discovered, .faulted, .gone],
        .faulted: [.opening, .closing, .discovered, .gone],
        .gone: [.discovered],
    ]

    /// Whether `from` → `to` is in the table.
    public static func isAllowed(from: LifecycleState, to: LifecycleState) -> Bool {
        allowed[from]?.contains(to) ?? false
    }
}
