import DequeModule

/// What a stream keeps for its one reader: the elements waiting (at most `capacity`; past it
/// the oldest is dropped and counted), the reader waiting for one, and how the stream ended.
///
/// It is a value inside its owner's locked state, so that the owner's own state (sequence
/// numbers, transfers in flight) changes under the same lock as the elements;
/// `LockedState.next(from:timeout:timedOut:cancelled:)` is the reader's wait. The reader gets
/// the elements in order, then the error the stream ended with (once), then `nil`.
/// `FrameStream` (a driver's frames) and `USBBulkStream` (a camera's payloads) keep one.
public struct SingleReaderBuffer<Element: Sendable>: Sendable {
    /// The waiting reader.
    public typealias Reader = WaitContinuation<Element?, any Error>

    /// A waiting reader to resume and what with: call `resume()` after the lock is released.
    public struct Wake: Sendable {
        fileprivate let reader: Reader
        fileprivate let value: Result<Element?, LabvisorError>

        /// Resumes the reader.
        public func resume() { reader.resume(with: value) }
    }

    /// Elements kept for a slow reader before the oldest is dropped.
    public let capacity: Int
    /// Elements dropped so far because the reader was slower than the producer.
    public private(set) var dropped = 0
    /// Elements handed to the reader so far.
    public private(set) var delivered = 0
    /// Whether `end(error:)` was called.
    public private(set) var isEnded = false
    private var elements: Deque<Element> = []
    private var reader: Reader?
    /// The error the stream ended with, until the reader has had it.
    private var endError: LabvisorError?

    /// An empty buffer keeping at most `capacity` (at least 1) elements.
    public init(capacity: Int) {
        self.capacity = Swift.max(1, capacity)
    }

    /// Elements waiting for the reader now.
    public var count: Int { elements.count }

    /// Hands `element` to the waiting reader, or keeps it (dropping the oldest when full).
    /// Ignored once ended.
    /// - Returns: the reader to wake, if one was waiting.
    public mutating func append(_ element: Element) -> Wake? {
        guard !isEnded else { return nil }
        if let reader {
            self.reader = nil
            delivered += 1
            return Wake(reader: reader, value: .success(element))
        }
        if elements.count >= capacity {
            elements.removeFirst()
            dropped += 1
        }
        elements.append(element)
        return nil
    }

    /// Ends the stream: the reader gets the elements still kept, then `error` (once), then
    /// `nil`. Only the first call counts.
    /// - Returns: the reader to wake, if one was waiting (there were no elements then).
    public mutating func end(error: LabvisorError? = nil) -> Wake? {
        guard !isEnded else { return nil }
        isEnded = true
        guard let reader else {
            endError = error
            return nil
        }
        self.reader = nil
        return Wake(reader: reader, value: error.map { .failure($0) } ?? .success(nil))
    }

    /// The reader's next value if there is one now; else keeps `reader` until there is.
    fileprivate mutating func take(or reader: Reader) -> Result<Element?, LabvisorError>? {
        if let element = elements.popFirst() {
            delivered += 1
            return .success(element)
        }
        if isEnded {
            defer { endError = nil }
            return endError.map { .failure($0) } ?? .success(nil)
        }
        precondition(self.reader == nil, "two concurrent next() calls on one stream")
        self.reader = reader
        return nil
    }

    /// The kept reader, no longer kept.
    fileprivate mutating func removeReader() -> Reader? {
        defer { reader = nil }
        return reader
    }
}

extension LockedState where State: Sendable {
    /// The next element of the `SingleReaderBuffer` at `buffer` in this state; `nil` once it
    /// ended and was drained. One reader at a time.
    ///
    /// - Parameters:
    ///   - timeout: how long to wait (`nil`: until an element comes, the stream ends or the
    ///     task is cancelled).
    ///   - timedOut: the error when `timeout` passes (a `timeout` naming the stream).
    ///   - cancelled: the error when the task is cancelled.
    /// - Throws: the error the stream ended with (after the elements before it);
    ///   `timedOut()`; `cancelled()`.
    public func next<Element>(
        from buffer: WritableKeyPath<State, SingleReaderBuffer<Element>> & Sendable, timeout: Duration?,
        timedOut: @escaping @Sendable () -> LabvisorError, cancelled: @escaping @Sendable () -> LabvisorError
    ) async throws(LabvisorError) -> Element? {
        do {
            return try await suspend(
                until: timeout.map { .now + $0 },
                register: { (reader: SingleReaderBuffer<Element>.Reader) in
                    if let ready = withLock({ $0[keyPath: buffer].take(or: reader) }) { reader.resume(with: ready) }
                },
                expire: { end in
                    withLock { $0[keyPath: buffer].removeReader() }?.resume(throwing: end == .deadline ? timedOut() : cancelled())
                })
        } catch let error as LabvisorError {
            throw error
        } catch {
            throw cancelled()
        }
    }
}
