import CUSBDevFS
import Glibc
import LabvisorCore

/// A USB host without libusb, for tests of the device side: it submits usbdevfs URBs to a
/// device node itself, with the flags and `usercontext` it chooses, in exactly the order the
/// test says, and reaps them without waiting. So a test can interleave the URBs of several
/// transfers as a host with two submitting threads (libuvc) may, which libusb's calls cannot
/// be made to do on purpose. Not `Sendable`: used from the test's task.
final class RawURBHost {
    /// A URB as the host sees it after the reap.
    struct Reaped: Equatable {
        var label: String
        var status: Int32
        var bytes: [UInt8]
    }

    /// `_IOR('U', 10, struct usbdevfs_urb)` and `_IOW('U', 13, void *)` (the kernel's ioctl
    /// number encoding; the tests check them with `cusbdevfs_classify`).
    static let submitRequest = request(direction: 2, size: MemoryLayout<usbdevfs_urb>.size, number: 10)
    static let reapWithoutDelayRequest = request(direction: 1, size: MemoryLayout<UnsafeRawPointer>.size, number: 13)

    private let fd: Int32
    private var submitted: [UnsafeMutablePointer<usbdevfs_urb>: String] = [:]

    /// Opens `node` (in the umockdev testbed).
    init(node: String) throws {
        fd = open(node, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw LabvisorError(.unavailable, "cannot open \(node): errno \(errno)") }
    }

    deinit {
        close(fd)
        for urb in submitted.keys {
            urb.pointee.buffer.deallocate()
            urb.deallocate()
        }
    }

    /// Submits a bulk IN URB of `length` bytes on `endpoint`, one of the URBs of transfer
    /// `transfer` (its `usercontext`), flagged as libusb flags them: BULK_CONTINUATION but on
    /// the first, SHORT_NOT_OK but on the last.
    func submitIn(
        _ label: String, endpoint: UInt8, length: Int, transfer: UInt, first: Bool, last: Bool
    ) throws {
        let urb = UnsafeMutablePointer<usbdevfs_urb>.allocate(capacity: 1)
        urb.initialize(to: usbdevfs_urb())
        urb.pointee.type = UInt8(USBDEVFS_URB_TYPE_BULK)
        urb.pointee.endpoint = endpoint
        urb.pointee.buffer = UnsafeMutableRawPointer.allocate(byteCount: length, alignment: 8)
        urb.pointee.buffer_length = Int32(length)
        urb.pointee.flags =
            (first ? 0 : UInt32(USBDEVFS_URB_BULK_CONTINUATION)) | (last ? 0 : UInt32(USBDEVFS_URB_SHORT_NOT_OK))
        urb.pointee.usercontext = UnsafeMutableRawPointer(bitPattern: transfer)
        submitted[urb] = label
        guard ioctl(fd, Self.submitRequest, urb) == 0 else {
            throw LabvisorError(.driverFault, "SUBMITURB of \(label) failed: errno \(errno)")
        }
    }

    /// Reaps every completed URB, in the order the device side hands them over.
    func reapCompleted() throws -> [Reaped] {
        var reaped: [Reaped] = []
        while true {
            var pointer: UnsafeMutableRawPointer?
            guard ioctl(fd, Self.reapWithoutDelayRequest, &pointer) == 0 else {
                guard errno == EAGAIN else { throw LabvisorError(.driverFault, "REAPURBNDELAY failed: errno \(errno)") }
                return reaped
            }
            guard let urb = pointer?.assumingMemoryBound(to: usbdevfs_urb.self), let label = submitted[urb] else {
                throw LabvisorError(.driverFault, "REAPURBNDELAY gave a URB this host did not submit")
            }
            let count = Int(urb.pointee.actual_length)
            let bytes = Array(UnsafeRawBufferPointer(start: urb.pointee.buffer, count: count))
            reaped.append(Reaped(label: label, status: urb.pointee.status, bytes: bytes))
        }
    }

    private static func request(direction: UInt, size: Int, number: UInt) -> UInt {
        direction << 30 | UInt(size) << 16 | UInt(UInt8(ascii: "U")) << 8 | number
    }
}
