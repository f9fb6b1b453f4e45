import Foundation

/// Sends notifications to systemd over `$NOTIFY_SOCKET` without libsystemd: one unix
/// datagram per message, as `sd_notify(3)` does. A socket name starting with `@` is in the
/// abstract namespace, where the address length must be exact (no trailing NUL).
public struct SystemdNotifier: Sendable, Hashable {
    /// The socket as `$NOTIFY_SOCKET` gives it: an absolute path or `@name`.
    public let socket: String

    /// The notifier for `environment["NOTIFY_SOCKET"]`; `nil` when it is unset or empty (the
    /// daemon does not run under systemd, and nothing is sent).
    public init?(environment: [String: String] = ProcessInfo.processInfo.environment) {
        guard let socket = environment["NOTIFY_SOCKET"], !socket.isEmpty else { return nil }
        self.socket = socket
    }

    /// A notifier for `socket` (an absolute path or `@name`).
    public init(socket: String) {
        self.socket = socket
    }

    /// Sends `notifications` as one datagram, one line each.
    ///
    /// - Throws: `invalidArgument` for a socket name that is neither absolute nor abstract,
    ///   or too long for a unix address; `unavailable` when the datagram cannot be sent
    ///   (the error names the socket and the system's reason).
    public func send(_ notifications: SystemdNotification...) throws(LabvisorError) {
        try send(notifications)
    }

    /// Sends `notifications` as one datagram, one line each.
    ///
    /// - Throws: as `send(_:...)`.
    public func send(_ notifications: [SystemdNotification]) throws(LabvisorError) {
        let text = notifications.map(\.line).joined(separator: "\n")
        var (address, length) = try Self.address(socket)
        let descriptor = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw failure("cannot create a datagram socket") }
        defer { close(descriptor) }
        let bytes = Array(text.utf8)
        let sent = bytes.withUnsafeBytes { buffer in
            withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(descriptor, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL), $0, length)
                }
            }
        }
        guard sent == bytes.count else { throw failure("cannot send '\(text)'") }
    }

    private func failure(_ what: String) -> LabvisorError {
        let reason = String(cString: strerror(errno))
        return LabvisorError(
            .unavailable, "systemd notify socket \(socket): \(what): \(reason)", fields: ["socket": .string(socket), "reason": .string(reason)])
    }

    /// The unix address of `socket` and its exact length.
    static func address(_ socket: String) throws(LabvisorError) -> (sockaddr_un, socklen_t) {
        let bytes: [UInt8]
        if socket.hasPrefix("@") {
            bytes = [0] + Array(socket.utf8.dropFirst())  // abstract: a leading NUL, no terminator
        } else if socket.hasPrefix("/") {
            bytes = Array(socket.utf8) + [0]
        } else {
            throw LabvisorError.invalidArgument("NOTIFY_SOCKET", "'\(socket)' is neither an absolute path nor an abstract name (@name)")
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count <= capacity else {
            throw LabvisorError.invalidArgument("NOTIFY_SOCKET", "'\(socket)' is longer than a unix socket address (\(capacity - 1) bytes)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count
        return (address, socklen_t(length))
    }
}
