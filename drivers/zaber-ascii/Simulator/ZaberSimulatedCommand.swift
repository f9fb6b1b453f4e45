import Foundation

/// A command line as the simulated device reads it: `/[device] [axis] [id] command [args][:CC]`.
struct ZaberSimulatedCommand: Sendable {
    /// 0 for a broadcast.
    let device: Int
    /// 0 for the whole device.
    let axis: Int
    /// The message id (0...99) to echo, when given.
    let messageID: Int?
    /// The command and its arguments.
    let words: [String]
    /// False when a `:CC` checksum was given and does not match.
    let checksumValid: Bool

    /// Parses `line`; `nil` when it is not a command (no leading `/`).
    init?(parsing line: String) {
        var text = Substring(line.trimmingCharacters(in: .whitespaces))
        guard text.first == "/" else { return nil }
        text = text.dropFirst()
        var valid = true
        if let colon = text.lastIndex(of: ":") {
            let given = UInt8(text[text.index(after: colon)...], radix: 16)
            text = text[..<colon]
            valid = given == Self.checksum(of: text)
        }
        var tokens = text.split(separator: " ").map(String.init)
        var numbers: [Int] = []
        while numbers.count < 3, let first = tokens.first, first.allSatisfy(\.isNumber), let number = Int(first) {
            numbers.append(number)
            tokens.removeFirst()
        }
        device = numbers.first ?? 0
        axis = numbers.count > 1 ? numbers[1] : 0
        messageID = numbers.count > 2 ? numbers[2] : nil
        words = tokens
        checksumValid = valid
    }

    /// The ASCII protocol's longitudinal redundancy check: the two's complement of the byte
    /// sum (mod 256) of the text between `/` and `:`.
    static func checksum(of text: Substring) -> UInt8 {
        let sum = text.utf8.reduce(UInt8(0)) { $0 &+ $1 }
        return 0 &- sum
    }
}
