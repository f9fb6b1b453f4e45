/// The wire methods that run an instrument's driver, as metrics label them.
public enum InstrumentCallKind: String, Sendable, CaseIterable {
    /// `instrument.invoke`.
    case invoke
    /// `instrument.get`.
    case get
    /// `instrument.set`.
    case set
}

/// Told about every instrument call when its response is ready: the seam between the wire
/// server and the metrics. Called on the call's task, once per call, so an implementation
/// must be cheap and must not take locks (atomic counters are fine).
public protocol CallObserver: Sendable {
    /// A call of `kind` ended after `duration` (from dispatch to response), with `error`
    /// when it failed.
    func callEnded(_ kind: InstrumentCallKind, error: ErrorCode?, duration: Duration)
}
