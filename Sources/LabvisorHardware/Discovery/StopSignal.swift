#if canImport(Glibc)
    import Glibc
#endif
import LabvisorCore

/// A pipe that wakes the discovery thread for shutdown (Glibc's Swift module has no
/// `eventfd`). `signal()` may come from any thread at any time, also after `close()` (then
/// it does nothing), so the fd is never written after it was closed and possibly reused.
final class StopSignal: Sendable {
    /// The write end, `nil` once closed.
    private let writeEnd: LockedState<Int32?>
    /// The read end, for `poll`. Valid until `close()`, which runs after the thread has ended.
    let fileDescriptor: Int32

    init() throws(LabvisorError) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else {
            throw LabvisorError(.resourceExhausted, "pipe failed", fields: ["errno": .int(Int(errno))])
        }
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        fileDescriptor = fds[0]
        writeEnd = LockedState(fds[1])
    }

    /// Wakes the thread; it then ends. A full pipe (many signals) is fine: one byte is enough.
    func signal() {
        writeEnd.withLock { fd in
            guard let fd else { return }
            var byte: UInt8 = 1
            _ = write(fd, &byte, 1)
        }
    }

    /// Closes both ends. Later `signal()` calls do nothing.
    func close() {
        writeEnd.withLock { fd in
            if let open = fd {
                _ = Glibc.close(open)
                _ = Glibc.close(fileDescriptor)
            }
            fd = nil
        }
    }
}
