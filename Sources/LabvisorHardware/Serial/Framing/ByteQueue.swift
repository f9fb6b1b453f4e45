/// A growable byte queue for decoders: appends at the end, consumes from the front without
/// moving bytes on every frame (it compacts once the consumed part is large).
struct ByteQueue: Sendable {
    private(set) var storage: [UInt8] = []
    /// Index of the first unconsumed byte in `storage`.
    private(set) var start = 0

    var count: Int { storage.count - start }
    var isEmpty: Bool { count == 0 }

    mutating func append(_ bytes: some Collection<UInt8>) {
        compact()
        storage.append(contentsOf: bytes)
    }

    /// The unconsumed byte at `offset` from the front.
    subscript(offset: Int) -> UInt8 { storage[start + offset] }

    /// `count` bytes from `offset`, without consuming them.
    func bytes(from offset: Int, count: Int) -> ArraySlice<UInt8> {
        storage[(start + offset)..<(start + offset + count)]
    }

    /// Offset of the first `byte` at or after `from`, or `nil`.
    func firstOffset(of byte: UInt8, from offset: Int = 0) -> Int? {
        storage[(start + offset)...].firstIndex(of: byte).map { $0 - start }
    }

    /// Consumes `count` bytes and returns them.
    mutating func take(_ count: Int) -> [UInt8] {
        let taken = Array(storage[start..<(start + count)])
        start += count
        return taken
    }

    /// Consumes `count` bytes.
    mutating func drop(_ count: Int) { start += count }

    mutating func removeAll() {
        storage.removeAll(keepingCapacity: true)
        start = 0
    }

    private mutating func compact() {
        if start == storage.count {
            storage.removeAll(keepingCapacity: true)
            start = 0
        } else if start >= 4096 && start * 2 >= storage.count {
            storage.removeFirst(start)
            start = 0
        }
    }
}
