import CLibUSB
import CLibUSBShim
import LabvisorCore

#if canImport(Glibc)
    import Glibc
#endif

/// A libusb context with its own event thread: the entry point to USB devices.
///
/// One `USBEventThread` per context runs libusb's event handling, so transfer callbacks never
/// need a caller to pump events; the daemon uses one context (`shared`), tests make their own.
/// libusb's logging is off (set `LABVISOR_LIBUSB_DEBUG=1` to see it on stderr).
///
/// `shutdown()` closes every device still open (cancelling their transfers, which then end
/// with `closed`), stops and joins the event thread, and exits the libusb context. It is
/// idempotent; after it, `devices()` and `open` fail with `closed`. libusb frees a transfer
/// through its context, so while transfer objects still exist (a stream not yet released),
/// the exit waits for the last one to be freed. Releasing the last reference does the same
/// without the device closing (open devices and transfers keep their context alive).
public final class USBContext: Sendable {
    private struct State {
        var shutDown = false
        /// The event thread has been joined (only after `shutDown`).
        var threadStopped = false
        var exited = false
        /// Devices opened through this context and not closed yet, by serial number.
        var openDevices: [UInt64: WeakDevice] = [:]
        var nextDeviceNumber: UInt64 = 0
        /// `USBTransfer`s not freed yet: libusb frees them through the context.
        var liveTransfers = 0
    }

    private struct WeakDevice: Sendable {
        weak var device: USBDevice?
    }

    let pointer: LibUSBPointer
    private let eventThread: USBEventThread
    private let state = LockedState(State())

    private static let sharedContext = LockedState<USBContext?>(nil)

    /// The process-wide context, created on first use. Never shut it down in a library; the
    /// daemon does at exit.
    public static var shared: USBContext {
        get throws(LabvisorError) {
            try sharedContext.withLock { (context: inout USBContext?) throws(LabvisorError) -> USBContext in
                if let context { return context }
                let created = try USBContext()
                context = created
                return created
            }
        }
    }

    /// Creates a libusb context and starts its event thread.
    public init() throws(LabvisorError) {
        var context: OpaquePointer?
        let result = libusb_init(&context)
        guard result == 0, let context else {
            throw LabvisorError(
                .unavailable, "libusb could not be initialised: \(USBContext.errorName(result))",
                fields: ["libusb_error": .string(USBContext.errorName(result))])
        }
        if getenv("LABVISOR_LIBUSB_DEBUG") != nil {
            _ = clibusb_enable_debug_logging(context)
        } else {
            _ = clibusb_disable_logging(context)
        }
        pointer = LibUSBPointer(raw: context)
        do {
            eventThread = try USBEventThread(context: pointer)
        } catch {
            libusb_exit(context)
            throw error
        }
    }

    deinit {
        // Released from a transfer callback, the event thread is still inside libusb:
        // exiting the context there would free what it uses. Stop the loop and leak the
        // context instead (only when the last reference goes away in a callback).
        let onEventThread = eventThread.isCurrent
        eventThread.stop()
        guard !onEventThread else { return }
        let exit = state.withLock { state in
            defer { state.exited = true }
            return !state.exited
        }
        if exit { libusb_exit(pointer.raw) }
    }

    /// Whether `shutdown()` was called.
    public var isShutDown: Bool { state.withLock { $0.shutDown } }

    /// Closes every open device (bounded: see `USBDevice.close()`), stops and joins the event
    /// thread, and exits the libusb context. Idempotent; a second call returns at once.
    public func shutdown() async {
        let devices: [USBDevice]? = state.withLock { state in
            guard !state.shutDown else { return nil }
            state.shutDown = true
            defer { state.openDevices = [:] }
            return state.openDevices.values.compactMap(\.device)
        }
        guard let devices else { return }
        for device in devices { try? await device.close() }
        eventThread.stop()
        state.withLock { $0.threadStopped = true }
        exitWhenUnused()
    }

    /// Exits the libusb context after `shutdown()` once the event thread has ended and no
    /// transfer is left (a transfer's last reference may go on any thread, the event
    /// thread included, where exiting would free what libusb is using).
    private func exitWhenUnused() {
        let exit = state.withLock { state in
            guard state.threadStopped, !state.exited, state.liveTransfers == 0 else { return false }
            state.exited = true
            return true
        }
        if exit { libusb_exit(pointer.raw) }
    }

    /// Counts a transfer allocated for a device of this context.
    func transferAllocated() {
        state.withLock { $0.liveTransfers += 1 }
    }

    /// Counts a transfer freed; the last one after `shutdown()` exits the context.
    func transferFreed() {
        state.withLock { $0.liveTransfers -= 1 }
        exitWhenUnused()
    }

    /// Every USB device libusb sees, with its descriptors (hubs included; nothing is opened).
    public func devices() throws(LabvisorError) -> [USBDeviceInfo] {
        try withDeviceList { list in list.compactMap { USBDescriptorReader.info(of: $0) } }
    }

    /// Opens the device at `bus`/`address`.
    ///
    /// - Parameter detachKernelDriver: let libusb detach a kernel driver bound to an interface
    ///   when claiming it, and reattach it on release (`libusb_set_auto_detach_kernel_driver`).
    /// - Throws: `notFound` when no such device exists, `permissionDenied`, `deviceGone`,
    ///   `closed` after `shutdown()`, `driverFault` for other libusb errors.
    public func open(bus: UInt8, address: UInt8, detachKernelDriver: Bool = false) throws(LabvisorError) -> USBDevice {
        try open(describedAs: "bus \(bus) address \(address)", detachKernelDriver: detachKernelDriver) { info in
            info.bus == bus && info.address == address
        }
    }

    /// Opens the device discovery reported: the one at the identity's port path, with its
    /// vendor and product id.
    public func open(_ identity: DeviceIdentity, detachKernelDriver: Bool = false) throws(LabvisorError) -> USBDevice {
        try open(describedAs: "at port \(identity.portPath)", detachKernelDriver: detachKernelDriver) { info in
            info.portPath == identity.portPath && USBDeviceInfo.hex4(info.vendorID) == identity.vendorID.lowercased()
                && USBDeviceInfo.hex4(info.productID) == identity.productID.lowercased()
        }
    }

    private func open(
        describedAs description: String, detachKernelDriver: Bool, matching: (USBDeviceInfo) -> Bool
    ) throws(LabvisorError) -> USBDevice {
        let (handle, info) = try withDeviceList { list throws(LabvisorError) -> (OpaquePointer, USBDeviceInfo) in
            for device in list {
                guard let info = USBDescriptorReader.info(of: device), matching(info) else { continue }
                var handle: OpaquePointer?
                let result = libusb_open(device, &handle)
                guard result == 0, let handle else {
                    throw USBErrors.libusb(result, "open USB device \(info.label)", device: info)
                }
                return (handle, info)
            }
            throw LabvisorError(
                .notFound, "no USB device \(description)", fields: ["kind": "USB device", "name": .string(description)])
        }
        if detachKernelDriver { _ = libusb_set_auto_detach_kernel_driver(handle, 1) }
        let number: UInt64? = state.withLock { state in
            guard !state.shutDown else { return nil }
            state.nextDeviceNumber += 1
            return state.nextDeviceNumber
        }
        guard let number else {
            libusb_close(handle)
            throw LabvisorError.closed("USB context")
        }
        let device = USBDevice(context: self, handle: LibUSBPointer(raw: handle), info: info, number: number)
        state.withLock { $0.openDevices[number] = WeakDevice(device: device) }
        return device
    }

    /// Called by a device once it is closed.
    func forget(deviceNumber: UInt64) {
        _ = state.withLock { $0.openDevices.removeValue(forKey: deviceNumber) }
    }

    private func withDeviceList<Result>(
        _ body: ([OpaquePointer]) throws(LabvisorError) -> Result
    ) throws(LabvisorError) -> Result {
        guard !isShutDown else { throw LabvisorError.closed("USB context") }
        var list: UnsafeMutablePointer<OpaquePointer?>?
        let count = libusb_get_device_list(pointer.raw, &list)
        guard count >= 0, let list else {
            throw USBErrors.libusb(Int32(count), "list USB devices", device: nil)
        }
        defer { libusb_free_device_list(list, 1) }
        return try body((0..<count).compactMap { list[$0] })
    }

    /// libusb's name of an error code ("LIBUSB_ERROR_NO_DEVICE").
    static func errorName(_ code: Int32) -> String {
        libusb_error_name(code).map { String(cString: $0) } ?? "libusb error \(code)"
    }
}
