import Foundation
import LabvisorClient
import LabvisorHardware

/// systemd's side of `$NOTIFY_SOCKET`: a bound unix datagram socket, at a path in a temporary
/// folder or in the abstract namespace (`@name`).
final class NotifySocketListener: Sendable {
    /// One datagram and when it arrived.
    struct Message: Sendable {
        let lines: [String]
        /// When the kernel queued it (`SO_TIMESTAMP`, wall-clock seconds): the arrival,
        /// however late the test got around to reading it.
        let arrival: Double
    }

    /// The value for `NOTIFY_SOCKET`.
    let name: String
    private let descriptor: Int32
    private let path: String?

    /// Binds a fresh socket: abstract, or a path in the temporary folder.
    init(abstract: Bool) throws {
        let unique = "labvisor-notify-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        path = abstract ? nil : FileManager.default.temporaryDirectory.appendingPathComponent(unique + ".sock").path
        name = path ?? "@" + unique
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw LabvisorError(.unavailable, "socket(): \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes: [UInt8] = path.map { Array($0.utf8) + [0] } ?? [0] + Array(unique.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        guard bound == 0 else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw LabvisorError(.unavailable, "cannot bind the notify socket \(name): \(reason)")
        }
        var on: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_TIMESTAMP, &on, socklen_t(MemoryLayout<Int32>.size))
    }

    /// The next datagram, waiting at most `limit` (on a thread of its own, `DedicatedThread`:
    /// not the test's task pool, which Dispatch's global queues share on Linux).
    ///
    /// - Throws: `timeout` when none arrives in time.
    func receive(within limit: Duration) async throws -> Message {
        let descriptor = self.descriptor
        let name = self.name
        let milliseconds = Int32(clamping: limit.components.seconds * 1000 + limit.components.attoseconds / 1_000_000_000_000_000)
        return try await DedicatedThread.run {
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, milliseconds) == 1 else {
                throw LabvisorError(.timeout, "no notification on \(name) within \(limit)")
            }
            return try Self.receiveNow(descriptor)
        }
    }

    /// Reads one queued datagram with its kernel timestamp (`recvmsg`, `SCM_TIMESTAMP`).
    private static func receiveNow(_ descriptor: Int32) throws -> Message {
        var buffer = [UInt8](repeating: 0, count: 4096)
        var control = [UInt8](repeating: 0, count: 256)
        let (count, arrival) = buffer.withUnsafeMutableBytes { data in
            control.withUnsafeMutableBytes { control -> (Int, Double?) in
                var vector = iovec(iov_base: data.baseAddress, iov_len: data.count)
                return withUnsafeMutablePointer(to: &vector) { vector in
                    var header = msghdr()
                    header.msg_iov = vector
                    header.msg_iovlen = 1
                    header.msg_control = control.baseAddress
                    header.msg_controllen = control.count
                    let count = recvmsg(descriptor, &header, 0)
                    guard count >= 0 else { return (count, nil) }
                    // Walk the control messages (struct cmsghdr: size_t len, int level, int type; data 8-aligned).
                    var offset = 0
                    let headerSize = MemoryLayout<cmsghdr>.size
                    while offset + headerSize <= header.msg_controllen {
                        let message = control.load(fromByteOffset: offset, as: cmsghdr.self)
                        if message.cmsg_level == SOL_SOCKET && message.cmsg_type == SO_TIMESTAMP {
                            let time = control.loadUnaligned(fromByteOffset: offset + headerSize, as: timeval.self)
                            return (count, Double(time.tv_sec) + Double(time.tv_usec) / 1e6)
                        }
                        guard message.cmsg_len > 0 else { break }
                        offset += (Int(message.cmsg_len) + 7) & ~7
                    }
                    return (count, nil)
                }
            }
        }
        guard count >= 0 else { throw LabvisorError(.unavailable, "recvmsg(): \(String(cString: strerror(errno)))") }
        guard let arrival else { throw LabvisorError(.unavailable, "recvmsg(): no SO_TIMESTAMP on the datagram") }
        let text = String(decoding: buffer[..<count], as: UTF8.self)
        return Message(lines: text.split(separator: "\n").map(String.init), arrival: arrival)
    }

    /// Reads and returns every datagram already queued, without waiting, so the next
    /// `receive` times an arrival rather than a backlog.
    func drain() async -> [Message] {
        var drained: [Message] = []
        while let message = try? await receive(within: .zero) { drained.append(message) }
        return drained
    }

    /// Receives until a message holds `line` (all messages until then, that one included).
    ///
    /// - Throws: `timeout` when `line` has not come within `limit`.
    func receive(until line: String, within limit: Duration) async throws -> [Message] {
        let deadline = ContinuousClock.now + limit
        var messages: [Message] = []
        while !(messages.last?.lines.contains(line) ?? false) {
            let left = deadline - .now
            guard left > .zero else {
                throw LabvisorError(.timeout, "no \(line) on \(name) within \(limit); got \(messages.flatMap(\.lines))")
            }
            do {
                messages.append(try await receive(within: left))
            } catch {
                throw LabvisorError(.timeout, "no \(line) on \(name) within \(limit); got \(messages.flatMap(\.lines)) (\(error))")
            }
        }
        return messages
    }

    deinit {
        close(descriptor)
        if let path { unlink(path) }
    }
}
