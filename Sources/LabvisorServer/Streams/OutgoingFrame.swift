import LabvisorCore
import NIOCore

/// One frame of a stream on its way to the subscribers: the driver's `DataFrame`, and its
/// bytes in a `ByteBuffer`, made once, when the first subscriber writes it, and shared by
/// the others (a frame dropped by every subscriber is never copied).
final class OutgoingFrame: Sendable {
    /// The frame as the driver published it.
    let frame: DataFrame
    private let encoded = LockedState<ByteBuffer?>(nil)

    init(_ frame: DataFrame) {
        self.frame = frame
    }

    /// The payload as a buffer (one copy of the bytes, the first time).
    func payload(_ allocator: ByteBufferAllocator) -> ByteBuffer {
        encoded.withLock { encoded in
            if let encoded { return encoded }
            let buffer = allocator.buffer(bytes: frame.bytes)
            encoded = buffer
            return buffer
        }
    }
}
