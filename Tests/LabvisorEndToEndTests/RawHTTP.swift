import Foundation
import LabvisorClient
import LabvisorHardware

/// A plain HTTP/1.1 GET over a POSIX TCP socket (no URLSession, no HTTP library), bounded by
/// socket timeouts, run on a Dispatch thread.
enum RawHTTP {
    /// A response: the status code, the header lines and the body.
    struct Response: Sendable {
        let status: Int
        let headers: [String]
        let body: String

        /// The value of header `name` (case-insensitive).
        func header(_ name: String) -> String? {
            headers.first { $0.lowercased().hasPrefix(name.lowercased() + ":") }.map {
                String($0.dropFirst(name.count + 1)).trimmingCharacters(in: .whitespaces)
            }
        }
    }

    /// `GET path` from `127.0.0.1:port`, reading until the server closes (`Connection: close`).
    ///
    /// - Throws: `unavailable` when it cannot connect or the socket fails or times out (5 s).
    static func get(port: Int, path: String) async throws -> Response {
        try await DedicatedThread.run { try exchange(port: port, path: path) }
    }

    private static func exchange(port: Int, path: String) throws -> Response {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw failure("socket()") }
        defer { close(descriptor) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw failure("connect to 127.0.0.1:\(port)") }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n".utf8)
        guard send(descriptor, request, request.count, Int32(MSG_NOSIGNAL)) == request.count else { throw failure("send") }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count == 0 { break }
            guard count > 0 else { throw failure("recv (after \(received.count) bytes)") }
            received += buffer[..<count]
        }
        let text = String(decoding: received, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { throw LabvisorError(.unavailable, "no HTTP header end in: \(text)") }
        let head = text[..<split.lowerBound].components(separatedBy: "\r\n")
        let statusLine = head.first?.split(separator: " ") ?? []
        guard statusLine.count >= 2, statusLine[0].hasPrefix("HTTP/1."), let status = Int(statusLine[1]) else {
            throw LabvisorError(.unavailable, "not an HTTP status line: \(head.first ?? "")")
        }
        return Response(status: status, headers: Array(head.dropFirst()), body: String(text[split.upperBound...]))
    }

    private static func failure(_ what: String) -> LabvisorError {
        LabvisorError(.unavailable, "\(what): \(String(cString: strerror(errno)))")
    }
}
