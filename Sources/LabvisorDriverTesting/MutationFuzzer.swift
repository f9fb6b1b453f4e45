import Foundation
import LabvisorCore

/// A seeded mutation fuzzer for parsers: it derives inputs from a corpus of valid ones (bit
/// flips, interesting bytes, insertions, deletions, duplicated and spliced ranges, tokens of a
/// dictionary, truncation) and hands each to the target.
///
/// The test suite's fuzzing harness (issue 7, "Hostile and broken input"): deterministic, so a
/// crash seen in CI reproduces from the seed the test names, and bounded by an iteration
/// count. A target passes an input when it returns or throws a `LabvisorError` (a clear
/// error); any other error fails the run with the input that caused it, and a crash (trap,
/// overflow, out-of-bounds index) ends the test process, which fails the run. Inputs that
/// once broke a parser are kept in its test as regression inputs and run first. To find the
/// input of a crash, set `LABVISOR_FUZZ_LAST_INPUT` to a file: each input is written there
/// before it runs.
public struct MutationFuzzer {
    /// An input the target refused with something other than a `LabvisorError`.
    public struct Finding: Error, CustomStringConvertible {
        /// The input.
        public var input: [UInt8]
        /// The iteration it was generated at (0 for a regression input).
        public var iteration: Int
        /// What the target threw.
        public var error: any Error

        public var description: String {
            "iteration \(iteration): \(error) for input \(input.map { String($0) }.joined(separator: ","))"
        }
    }

    /// Valid inputs the mutations start from.
    public let corpus: [[UInt8]]
    /// Tokens worth inserting (keywords, delimiters of the format).
    public let dictionary: [[UInt8]]
    /// The seed of this run.
    public let seed: UInt64
    /// The longest input generated.
    public var maximumLength = 4096
    private var state: UInt64

    /// Creates a fuzzer over `corpus` (at least one input) with `dictionary` tokens.
    public init(seed: UInt64, corpus: [[UInt8]], dictionary: [[UInt8]] = []) {
        precondition(!corpus.isEmpty, "a fuzzer needs at least one corpus input")
        self.seed = seed
        self.corpus = corpus
        self.dictionary = dictionary
        state = seed
    }

    /// Creates a fuzzer over text inputs and tokens.
    public init(seed: UInt64, texts: [String], tokens: [String] = []) {
        self.init(seed: seed, corpus: texts.map { Array($0.utf8) }, dictionary: tokens.map { Array($0.utf8) })
    }

    /// Runs `regressions`, the corpus, then `iterations` mutated inputs through `target`.
    ///
    /// - Returns: the inputs run.
    /// - Throws: the first `Finding`.
    @discardableResult
    public mutating func run(
        iterations: Int, regressions: [[UInt8]] = [], _ target: ([UInt8]) throws -> Void
    ) throws(Finding) -> Int {
        // One fuzzing loop at a time in the process: each is seconds of CPU, and a dozen at
        // once on 2 cores starved the suite's timing tests. Callers run it on a background
        // thread (`DedicatedThread.run(.background)`), never on the task pool.
        try Self.oneAtATime.withLock { (loops: inout Int) throws(Finding) -> Int in
            loops += 1
            var count = 0
            for input in regressions + corpus {
                try check(input, iteration: 0, target)
                count += 1
            }
            for iteration in 1...max(1, iterations) {
                try check(mutated(), iteration: iteration, target)
                count += 1
            }
            return count
        }
    }

    private static let lastInputFile = ProcessInfo.processInfo.environment["LABVISOR_FUZZ_LAST_INPUT"]
    /// Held for a whole loop; counts the loops run. (Not `LockedState<Void>`: an empty
    /// state shares its address with the mutex, which ThreadSanitizer reports as a race.)
    private static let oneAtATime = LockedState(0)

    private func check(_ input: [UInt8], iteration: Int, _ target: ([UInt8]) throws -> Void) throws(Finding) {
        if let file = Self.lastInputFile { _ = FileManager.default.createFile(atPath: file, contents: Data(input)) }
        do {
            try target(input)
        } catch is LabvisorError {
            // A clear error: what hostile input should get.
        } catch {
            throw Finding(input: input, iteration: iteration, error: error)
        }
    }

    /// The next input: one to four mutations of a corpus input.
    public mutating func mutated() -> [UInt8] {
        var bytes = corpus[below(corpus.count)]
        for _ in 0...below(4) { mutate(&bytes) }
        if bytes.count > maximumLength { bytes.removeLast(bytes.count - maximumLength) }
        return bytes
    }

    private static let interesting: [UInt8] = [
        0x00, 0x01, 0x7F, 0x80, 0xFF, 0x0A, 0x0D, 0x20, 0x22, 0x5C, 0x2C, 0x3A, 0x3D, 0x5B, 0x5D, 0x7B, 0x7D, 0x2D, 0x2E,
        0x30, 0x39, 0x40, 0x65, 0xC3, 0xE2, 0xF0,
    ]

    private mutating func mutate(_ bytes: inout [UInt8]) {
        switch below(9) {
        case 0 where !bytes.isEmpty:  // flip a bit
            bytes[below(bytes.count)] ^= 1 << UInt8(below(8))
        case 1 where !bytes.isEmpty:  // an interesting byte
            bytes[below(bytes.count)] = Self.interesting[below(Self.interesting.count)]
        case 2:  // insert a byte
            bytes.insert(UInt8(truncatingIfNeeded: next()), at: below(bytes.count + 1))
        case 3 where !bytes.isEmpty:  // delete a range
            let start = below(bytes.count)
            bytes.removeSubrange(start..<min(bytes.count, start + 1 + below(8)))
        case 4 where !bytes.isEmpty:  // duplicate a range
            let start = below(bytes.count)
            let range = start..<min(bytes.count, start + 1 + below(16))
            bytes.insert(contentsOf: bytes[range], at: below(bytes.count + 1))
        case 5:  // splice with another corpus input
            let other = corpus[below(corpus.count)]
            let cut = below(bytes.count + 1)
            let from = below(other.count + 1)
            bytes = Array(bytes[..<cut]) + other[from...]
        case 6 where !dictionary.isEmpty:  // a token of the format
            bytes.insert(contentsOf: dictionary[below(dictionary.count)], at: below(bytes.count + 1))
        case 7 where !bytes.isEmpty:  // truncate
            bytes.removeLast(1 + below(bytes.count))
        default:  // a random byte
            if bytes.isEmpty {
                bytes.append(UInt8(truncatingIfNeeded: next()))
            } else {
                bytes[below(bytes.count)] = UInt8(truncatingIfNeeded: next())
            }
        }
    }

    private mutating func below(_ bound: Int) -> Int {
        Int(next() % UInt64(max(1, bound)))
    }

    /// SplitMix64.
    private mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
