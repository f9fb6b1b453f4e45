/// The state a driver puts its device in on shutdown, daemon stop and when the last
/// session closes (`[safe_state]` in `driver.toml`).
public struct SafeState: Sendable, Hashable {
    /// What the safe state is, for people ("laser emission off").
    public var description: String
    /// The driver method the daemon calls to reach it ("emission_off"); `nil` when the
    /// driver's shutdown alone reaches it.
    public var method: String?

    /// Creates a safe state.
    public init(description: String, method: String? = nil) {
        self.description = description
        self.method = method
    }
}
