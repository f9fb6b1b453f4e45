/// A reply line of the Zaber ASCII protocol, `@01 1 05 OK BUSY -- 1200`: device, axis,
/// optional message id, `OK` or `RJ`, `BUSY` or `IDLE`, the most severe warning flag (`--`
/// for none), and the data (a value, several values for axis 0, or an `RJ` reason).
struct ZaberReply: Sendable, Equatable {
    /// The answering device's number.
    let device: Int
    /// The axis it answers for (0: the whole device).
    let axis: Int
    /// The message id echoed from the command, when it had one.
    let messageID: Int?
    /// `OK` (true) or `RJ` (false).
    let accepted: Bool
    /// `BUSY` (true) or `IDLE`.
    let busy: Bool
    /// The warning flag, `--` for none.
    let warning: String
    /// Everything after the warning flag.
    let data: String

    /// Parses `line`; `nil` when it is not a well-formed reply.
    init?(line: String) {
        guard line.hasPrefix("@") else { return nil }
        // Substrings of the line: no string per field.
        var fields = line.dropFirst().split(separator: " ", omittingEmptySubsequences: true)[...]
        guard fields.count >= 5, let device = Int(fields[0]), let axis = Int(fields[1]) else { return nil }
        fields = fields.dropFirst(2)
        var messageID: Int?
        if let first = fields.first, let id = Int(first), first.allSatisfy(\.isNumber) {
            messageID = id
            fields = fields.dropFirst()
        }
        guard fields.count >= 3 else { return nil }
        let flag = fields[fields.startIndex]
        let status = fields[fields.startIndex + 1]
        guard flag == "OK" || flag == "RJ", status == "BUSY" || status == "IDLE" else { return nil }
        self.device = device
        self.axis = axis
        self.messageID = messageID
        accepted = flag == "OK"
        busy = status == "BUSY"
        warning = String(fields[fields.startIndex + 2])
        data = fields.dropFirst(3).joined(separator: " ")
    }

    /// The data as whole numbers (one per axis for an axis-0 `get`).
    var integers: [Int]? {
        let words = data.split(separator: " ")
        let values = words.compactMap { Int($0) }
        return values.isEmpty || values.count != words.count ? nil : values
    }
}
