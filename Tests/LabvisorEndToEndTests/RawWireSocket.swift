import Foundation
import LabvisorClient
import LabvisorHardware

/// A plain POSIX unix-socket connection to the daemon (no client library), for tests that
/// behave as no client should: garbage bytes, half frames, never reading. Blocking I/O
/// bounded by socket timeouts (5 s), run on threads of their own.
final class RawWireSocket: Sendable {
    let descriptor: Int32

    /// Connects to the unix socket at `path`; `receiveBuffer` shrinks the socket's receive
    /// buffer (bytes), for a client that fills up at once.
    ///
    /// - Throws: `unavailable` when it cannot connect.
    init(path: String, receiveBuffer: Int32? = nil) throws {
        descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw Self.failure("socket()") }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        if var size = receiveBuffer {
            setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            let error = Self.failure("connect to \(path)")
            close(descriptor)
            throw error
        }
    }

    deinit { close(descriptor) }

    /// Writes `bytes`; `false` when the daemon has closed the connection (no SIGPIPE).
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { return false }
            offset += count
        }
        return true
    }

    /// Writes one frame holding the JSON-RPC request `method` with `params` (JSON text).
    @discardableResult
    func request(id: Int, _ method: String, params: String = "{}") -> Bool {
        let body = Array(#"{"jsonrpc": "2.0", "id": \#(id), "method": "\#(method)", "params": \#(params)}"#.utf8)
        return send(Framing.lengthPrefix(body.count) + body)
    }

    /// Reads one frame's payload; `nil` at the end of the connection.
    ///
    /// - Throws: `unavailable` when the socket fails or nothing comes within 5 s.
    func readFrame() async throws -> [UInt8]? {
        try await DedicatedThread.run { [self] () throws -> [UInt8]? in
            guard let head = try readExactly(Framing.lengthSize), let length = Framing.readLength(head) else { return nil }
            guard let body = try readExactly(length) else { throw LabvisorError(.unavailable, "the connection ended inside a frame") }
            return body
        }
    }

    /// Reads one frame and decodes it as JSON.
    func readMessage() async throws -> JSONValue? {
        guard let frame = try await readFrame() else { return nil }
        return try JSONParser.parse(frame)
    }

    private func readExactly(_ count: Int) throws -> [UInt8]? {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: max(1, min(count, 65536)))
        while bytes.count < count {
            let received = recv(descriptor, &buffer, min(buffer.count, count - bytes.count), 0)
            if received == 0 { return bytes.isEmpty ? nil : bytes }
            // ECONNRESET: the daemon closed with our bytes unread; that is an end, too.
            if received < 0, errno == ECONNRESET { return nil }
            guard received > 0 else { throw Self.failure("recv") }
            bytes += buffer[..<received]
        }
        return bytes
    }

    private static func failure(_ what: String) -> LabvisorError {
        LabvisorError(.unavailable, "\(what): \(String(cString: strerror(errno)))")
    }
}
