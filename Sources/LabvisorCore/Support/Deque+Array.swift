import DequeModule

extension Deque {
    /// The elements as an array, in order.
    ///
    /// Use it instead of `Array(deque)`: for an empty deque, `Deque`'s copy writes its count
    /// (0) into the runtime's one shared empty-array storage, which ThreadSanitizer reports as
    /// a data race when two threads copy empty deques at once (two call queues closing
    /// together did).
    public var array: [Element] { isEmpty ? [] : Array(self) }
}
