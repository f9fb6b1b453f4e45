import LabvisorDriverKit

/// Zaber ASCII commands and replies over a `LineChannel`: numbers every command with a
/// message id (00...99, cycling), pairs it with the reply that echoes the id, and turns
/// rejections (`RJ`) into errors.
final class ZaberCommandLink: Sendable {
    /// The channel underneath.
    let channel: LineChannel
    /// The device number addressed.
    let device: Int
    /// The instrument's name, for messages.
    let instrument: String
    private let nextID = LockedState(0)

    init(channel: LineChannel, device: Int, instrument: String) {
        self.channel = channel
        self.device = device
        self.instrument = instrument
    }

    /// Whether a line can answer a command to `device`: a reply (`@01 ...`) from that device.
    /// Info lines (`#`) and alerts (`!`) are not replies; they are kept as unsolicited lines.
    static func isReply(from device: Int) -> @Sendable (String) -> Bool {
        let prefix = "@" + (device < 10 ? "0" : "") + "\(device) "
        return { line in line.hasPrefix(prefix) }
    }

    /// The port's node, for messages.
    var path: String { channel.path }

    /// Sends `command` to `axis` (0: the device) and returns its accepted reply.
    ///
    /// - Parameter argument: the method argument the command's data came from, named by
    ///   `invalidArgument` when the device rejects the data (`BADDATA`).
    /// - Throws: `invalidArgument` for `RJ … BADDATA`; `driverFault` for other rejections
    ///   (fields `reason`, `command`, `axis`) and malformed replies; the channel's errors
    ///   (`timeout`, `deviceGone`, ...).
    func send(_ command: String, axis: Int, argument: String? = nil) async throws -> ZaberReply {
        let id = nextID.withLock { next in
            defer { next = (next + 1) % 100 }
            return next
        }
        let text = "/\(device) \(axis) \(id < 10 ? "0" : "")\(id)" + (command.isEmpty ? "" : " \(command)")
        let answer = try await channel.query(text) { line -> Answer? in
            // A reply without an id (a device that does not echo ids) answers too; a reply
            // with another id is a late answer to an abandoned command and is skipped.
            guard let reply = ZaberReply(line: line) else { return .malformed(line) }
            return reply.messageID == nil || reply.messageID == id ? .reply(reply) : nil
        }
        guard case .reply(let reply) = answer else {
            let line = if case .malformed(let line) = answer { line } else { "" }
            throw LabvisorError(
                .driverFault, "unexpected reply to '\(command)' from Zaber device \(device) on \(path): '\(line)'",
                fields: ["command": .string(command), "reply": .string(line)])
        }
        guard reply.accepted else { throw rejection(reply, command: command, axis: axis, argument: argument) }
        return reply
    }

    /// What a line read after a command is: its reply (parsed once), or a line that is not a
    /// well-formed reply (which ends the command with `driverFault`).
    private enum Answer {
        case reply(ZaberReply)
        case malformed(String)
    }

    /// Sends a `get` for one axis (or a device setting) and reads one whole number.
    func integer(_ command: String, axis: Int) async throws -> Int {
        let reply = try await send(command, axis: axis)
        guard let value = reply.integers?.first, reply.integers?.count == 1 else { throw unexpected(command, reply) }
        return value
    }

    /// Sends a `get` to axis 0 and reads one whole number per axis.
    func integers(_ command: String, axis: Int, count: Int) async throws -> [Int] {
        let reply = try await send(command, axis: axis)
        guard let values = reply.integers, values.count == count else { throw unexpected(command, reply) }
        return values
    }

    /// The next alert or info line the device sent on its own, or `nil` after `timeout`.
    func nextAlert(timeout: Duration) async throws -> String? {
        try await channel.nextUnsolicited(timeout: timeout)
    }

    /// The error for a reply whose data does not fit `command`.
    func unexpected(_ command: String, _ reply: ZaberReply) -> LabvisorError {
        LabvisorError(
            .driverFault, "unexpected data in the reply to '\(command)' from Zaber device \(device) on \(path): '\(reply.data)'",
            fields: ["command": .string(command), "reply": .string(reply.data)])
    }

    private func rejection(_ reply: ZaberReply, command: String, axis: Int, argument: String?) -> LabvisorError {
        let reason = reply.data
        var fields: [String: JSONValue] = [
            "reason": .string(reason), "command": .string(command), "axis": .int(axis), "warning": .string(reply.warning),
        ]
        let message = "Zaber device \(device) (\(instrument)) rejected '\(command)' on axis \(axis): \(reason)"
        if reason == "BADDATA" {
            fields["argument"] = .string(argument ?? "data")
            return LabvisorError(.invalidArgument, message + " (a value out of range)", fields: fields)
        }
        return LabvisorError(.driverFault, message, fields: fields)
    }
}
