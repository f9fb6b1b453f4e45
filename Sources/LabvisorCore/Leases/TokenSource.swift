#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Lease tokens: 128 bits from the kernel's CSPRNG, as 32 hex digits.
///
/// The standard library's `SystemRandomNumberGenerator` makes one `getrandom` system call
/// per 8 bytes, a large part of the cost of an uncontended lease acquire; this draws 256
/// bytes per call (`getentropy`'s maximum) and hands them out 16 bytes at a time. Not thread-safe by itself: the lease table
/// keeps it under its lock.
struct TokenSource {
    private var pool: [UInt64] = []

    /// A new token.
    mutating func next() -> String {
        if pool.count < 2 { refill() }
        let high = pool.removeLast()
        let low = pool.removeLast()
        return String(unsafeUninitializedCapacity: 32) { buffer in
            for index in 0..<32 {
                let word = index < 16 ? high : low
                let nibble = Int((word >> UInt64(60 - 4 * (index % 16))) & 0xF)
                buffer[index] = nibble < 10 ? UInt8(ascii: "0") + UInt8(nibble) : UInt8(ascii: "a") + UInt8(nibble - 10)
            }
            return 32
        }
    }

    private mutating func refill() {
        var words = [UInt64](repeating: 0, count: 32)
        let filled = words.withUnsafeMutableBytes { bytes -> Bool in
            #if canImport(Glibc)
                getentropy(bytes.baseAddress!, bytes.count) == 0
            #else
                arc4random_buf(bytes.baseAddress!, bytes.count)
                return true
            #endif
        }
        if !filled {
            // getentropy failing is not expected (glibc >= 2.25, Linux >= 3.17); fall back to the stdlib.
            var generator = SystemRandomNumberGenerator()
            for index in words.indices { words[index] = generator.next() }
        }
        pool = words
    }
}
