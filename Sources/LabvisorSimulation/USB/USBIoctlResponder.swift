import CUMockdev
import CUSBDevFS
import LabvisorCore
import LabvisorHardware

#if canImport(Glibc)
    import Glibc
#endif

/// The device side of a simulated USB device: answers the usbdevfs ioctls that libusb sends
/// to `/dev/bus/usb/BBB/DDD` (through umockdev's `UMockdevIoctlBase` "handle-ioctl" signal).
///
/// URBs: a submitted URB is answered at once when it can be (control requests, OUT data, IN
/// data the behavior has ready) and queued as "completed" until libusb reaps it; an IN URB
/// whose behavior says `notReady` waits in a per-endpoint FIFO and is offered to the behavior
/// again on every later ioctl (each reap of libusb's event thread is one).
///
/// Bulk IN data goes transfer by transfer. libusb splits a large transfer into 16 KiB URBs
/// (all but the first flagged BULK_CONTINUATION, all but the last SHORT_NOT_OK) and marks
/// every URB of one transfer with the same `usercontext`. Once the device has put data into a
/// transfer's first URB, its next data goes only to that transfer's later URBs, even when URBs
/// of other transfers were queued in between (a host that submits from two threads, as libuvc
/// does: its main thread submits while its event thread already resubmits), until the
/// transfer's last URB (the one without SHORT_NOT_OK) has completed; then the earliest queued
/// URB starts the next one. A transfer answered short (or stalled) ends: its remaining URBs
/// complete without data (`-EREMOTEIO`), as the kernel cancels a transfer's continuation URBs,
/// and the endpoint waits for those the host has not submitted yet. So every URB of a transfer
/// completes before any URB of the next one gets data, libusb completes the transfers in the
/// order of their data, and a host never sees payloads out of order. On a real bus one
/// transfer's URBs are consecutive in practice (data arrives slower than the host submits);
/// here the device has data at once and every submission is a socket round trip, so without
/// this a camera's payloads would straddle transfers or overtake each other. Discarded
/// URBs complete with `-ENOENT`. Completed URBs are kept per connection (one per open file
/// descriptor, as the kernel keeps them per file): a second handle on the device (libuvc opens
/// one to read strings) never reaps the first one's URBs. After `unplug()`, pending URBs complete with `-ESHUTDOWN`
/// and new ones fail with `ENODEV`, which libusb reports as NO_DEVICE.
///
/// Every handler call comes on umockdev's ioctl thread; `unplug()` and the observers come
/// from the test's thread, so the state is behind one lock.
final class USBIoctlResponder: Sendable {
    /// A umockdev ioctl data object we hold a reference to.
    ///
    /// `@unchecked Sendable` is sound: each URB is held by exactly one entry of `State`
    /// (pending or completed), read and written only under `state`'s lock, and once taken out
    /// of the state it is touched only by the thread that took it (to hand it to umockdev).
    /// GObject reference counting is atomic.
    struct IoctlData: @unchecked Sendable {
        let pointer: UnsafeMutablePointer<UMockdevIoctlData>

        var urb: UnsafeMutablePointer<usbdevfs_urb> {
            UnsafeMutableRawPointer(pointer.pointee.data).assumingMemoryBound(to: usbdevfs_urb.self)
        }

        func unref() { umockdev_ioctl_data_unref(pointer) }
    }

    /// A submitted URB: its struct and the resolved buffer (the local copy umockdev syncs back
    /// to the client's memory when the URB is reaped).
    struct URB: Sendable {
        let data: IoctlData
        let buffer: IoctlData?
        let clientAddress: UInt
        let endpoint: UInt8
        let length: Int
        /// The connection (one per open file descriptor) that submitted it: only that one
        /// reaps it, as the kernel keeps completed URBs per file.
        let owner: UInt
        /// `USBDEVFS_URB_*` flags: libusb splits a large bulk transfer into 16 KiB URBs, all
        /// but the first marked BULK_CONTINUATION and all but the last SHORT_NOT_OK.
        let flags: UInt32
        /// The host transfer it belongs to: libusb sets `usercontext` to its transfer on every
        /// URB of it.
        let transfer: Transfer

        /// It continues a transfer whose first URB came earlier.
        var isContinuation: Bool { flags & UInt32(USBDEVFS_URB_BULK_CONTINUATION) != 0 }
        /// It is the last URB of its transfer: libusb flags all URBs but the last SHORT_NOT_OK.
        var isLast: Bool { flags & UInt32(USBDEVFS_URB_SHORT_NOT_OK) == 0 }
    }

    /// One host transfer: the connection that submitted it and libusb's `usercontext` (its
    /// transfer's address), which it sets on every URB of the transfer. A transfer that is
    /// resubmitted keeps its address: its first URB (no BULK_CONTINUATION) starts it anew.
    struct Transfer: Hashable, Sendable {
        let owner: UInt
        let context: UInt
    }

    /// What the device side saw, for tests.
    struct Observations: Sendable, Hashable {
        var claimed: Set<UInt8> = []
        var alternateSettings: [UInt8: UInt8] = [:]
        var kernelDrivers: [UInt8: String] = [:]
        var controlRequests: [USBControlSetup] = []
        var urbsSubmitted = 0
        var urbsDiscarded = 0
    }

    private struct State {
        var gone = false
        var pendingIn: [UInt8: [URB]] = [:]
        /// By IN endpoint, the transfer the device is filling: its first URB got data, its last
        /// one has not completed yet. The endpoint's next data goes to its next URB only; when
        /// it is in `ended`, the endpoint waits for the host to submit its last URB.
        var filling: [UInt8: Transfer] = [:]
        /// Transfers that ended short or stalled before their last URB: their remaining URBs
        /// complete at once without data, as the kernel does. Removed with the last URB.
        var ended: Set<Transfer> = []
        /// Completed URBs waiting to be reaped, by the connection that submitted them.
        var completed: [UInt: [IoctlData]] = [:]
        var seen = Observations()
    }

    let descriptors: SimulatedUSBDescriptors
    let behavior: any USBDeviceBehavior
    /// Drivers that `detach` takes off and `attach` puts back (by interface).
    private let boundDrivers: [UInt8: String]
    private let state: LockedState<State>

    init(descriptors: SimulatedUSBDescriptors, behavior: any USBDeviceBehavior, kernelDrivers: [UInt8: String]) {
        self.descriptors = descriptors
        self.behavior = behavior
        boundDrivers = kernelDrivers
        var initial = State()
        initial.seen.kernelDrivers = kernelDrivers
        state = LockedState(initial)
    }

    deinit {
        state.withLock { state in
            for urb in state.pendingIn.values.joined() {
                urb.buffer?.unref()
                urb.data.unref()
            }
            for data in state.completed.values.joined() { data.unref() }
        }
    }

    var observations: Observations { state.withLock { $0.seen } }

    /// IN URBs waiting for data.
    var pendingCount: Int { state.withLock { $0.pendingIn.values.reduce(0) { $0 + $1.count } } }

    /// The device is unplugged: pending URBs complete with `-ESHUTDOWN`, later ones fail.
    func unplug() {
        state.withLock { state in
            state.gone = true
            for urb in state.pendingIn.values.joined() {
                finish(urb, status: -ESHUTDOWN, actualLength: 0, into: &state)
            }
            state.pendingIn = [:]
            state.filling = [:]
            state.ended = []
        }
    }

    // MARK: The ioctl handler (umockdev's thread)

    /// Answers one ioctl; always completes the client.
    func handle(_ client: UnsafeMutablePointer<UMockdevIoctlClient>) {
        let request = umockdev_ioctl_client_get_request(client)
        guard let arg = umockdev_ioctl_client_get_arg(client) else {
            umockdev_ioctl_client_complete(client, -1, EFAULT)
            return
        }
        // umockdev keeps one client object per connection (per open file descriptor).
        let (result, error) = answer(cusbdevfs_classify(request), arg: arg, owner: UInt(bitPattern: client))
        umockdev_ioctl_client_complete(client, result, error)
    }

    private func answer(
        _ request: cusbdevfs_request, arg: UnsafeMutablePointer<UMockdevIoctlData>, owner: UInt
    ) -> (Int, Int32) {
        switch request {
        case CUSBDEVFS_GET_CAPABILITIES:
            return withResolved(arg, size: 4) { bytes in
                bytes.storeBytes(of: UInt32(cusbdevfs_simulated_capabilities()), as: UInt32.self)
                return (0, 0)
            }
        case CUSBDEVFS_SUBMITURB:
            return submit(arg, owner: owner)
        case CUSBDEVFS_REAPURB, CUSBDEVFS_REAPURBNDELAY:
            return reap(arg, owner: owner)
        case CUSBDEVFS_DISCARDURB:
            return discard(arg, owner: owner)
        default:
            break
        }
        if state.withLock({ $0.gone }) { return (-1, ENODEV) }
        switch request {
        case CUSBDEVFS_CLAIMINTERFACE, CUSBDEVFS_DISCONNECT_CLAIM:
            return withResolved(arg, size: 4) { bytes in
                let interface = UInt8(truncatingIfNeeded: bytes.load(as: UInt32.self))
                guard hasInterface(interface) else { return (-1, ENOENT) }
                return state.withLock { state in
                    if request == CUSBDEVFS_DISCONNECT_CLAIM {
                        state.seen.kernelDrivers[interface] = nil
                    } else if state.seen.kernelDrivers[interface] != nil {
                        return (-1, EBUSY)
                    }
                    state.seen.claimed.insert(interface)
                    return (0, 0)
                }
            }
        case CUSBDEVFS_RELEASEINTERFACE:
            return withResolved(arg, size: 4) { bytes in
                let interface = UInt8(truncatingIfNeeded: bytes.load(as: UInt32.self))
                return state.withLock { state in
                    state.seen.claimed.remove(interface) == nil ? (-1, EINVAL) : (0, 0)
                }
            }
        case CUSBDEVFS_SETINTERFACE:
            return withResolved(arg, size: 8) { bytes in
                let interface = UInt8(truncatingIfNeeded: bytes.load(as: UInt32.self))
                let setting = UInt8(truncatingIfNeeded: bytes.load(fromByteOffset: 4, as: UInt32.self))
                let exists = descriptors.configuration.interfaces.contains { candidate in
                    candidate.number == interface && candidate.alternateSettings.contains { $0.alternateSetting == setting }
                }
                guard exists else { return (-1, EINVAL) }
                return state.withLock { state in
                    state.seen.alternateSettings[interface] = setting
                    return (0, 0)
                }
            }
        case CUSBDEVFS_GETDRIVER:
            return withResolved(arg, size: 4 + 256) { bytes in
                let interface = UInt8(truncatingIfNeeded: bytes.load(as: UInt32.self))
                guard let driver = state.withLock({ $0.seen.kernelDrivers[interface] }) else { return (-1, ENODATA) }
                let name = Array(driver.utf8.prefix(255)) + [0]
                for (offset, byte) in name.enumerated() { bytes.storeBytes(of: byte, toByteOffset: 4 + offset, as: UInt8.self) }
                return (0, 0)
            }
        case CUSBDEVFS_IOCTL:
            return withResolved(arg, size: 8) { bytes in
                let interface = UInt8(truncatingIfNeeded: bytes.load(as: Int32.self))
                let code = bytes.load(fromByteOffset: 4, as: Int32.self)
                return state.withLock { state in
                    if code == cusbdevfs_ioctl_code_disconnect() {
                        return state.seen.kernelDrivers.removeValue(forKey: interface) == nil ? (-1, ENODATA) : (0, 0)
                    }
                    if code == cusbdevfs_ioctl_code_connect() {
                        if state.seen.claimed.contains(interface) { return (-1, EBUSY) }
                        state.seen.kernelDrivers[interface] = boundDrivers[interface]
                        return (0, 0)
                    }
                    return (-1, ENOTTY)
                }
            }
        case CUSBDEVFS_SETCONFIGURATION, CUSBDEVFS_CLEAR_HALT, CUSBDEVFS_RESET, CUSBDEVFS_RESETEP:
            return (0, 0)
        default:
            return (-1, ENOTTY)
        }
    }

    private func hasInterface(_ number: UInt8) -> Bool {
        descriptors.configuration.interfaces.contains { $0.number == number }
    }

    /// Resolves the ioctl's pointer argument to `size` bytes of the client's memory.
    private func withResolved(
        _ arg: UnsafeMutablePointer<UMockdevIoctlData>, size: Int, _ body: (UnsafeMutableRawPointer) -> (Int, Int32)
    ) -> (Int, Int32) {
        guard let data = umockdev_ioctl_data_resolve(arg, 0, gsize(size), nil) else { return (-1, EFAULT) }
        defer { umockdev_ioctl_data_unref(data) }
        return body(UnsafeMutableRawPointer(data.pointee.data))
    }

    // MARK: URBs

    private func submit(_ arg: UnsafeMutablePointer<UMockdevIoctlData>, owner: UInt) -> (Int, Int32) {
        guard let urbObject = umockdev_ioctl_data_resolve(arg, 0, gsize(MemoryLayout<usbdevfs_urb>.size), nil) else {
            return (-1, EFAULT)
        }
        let data = IoctlData(pointer: urbObject)
        let urbStruct = data.urb.pointee
        let length = Int(urbStruct.buffer_length)
        var buffer: IoctlData?
        if length > 0 {
            let offset = MemoryLayout<usbdevfs_urb>.offset(of: \.buffer)!
            guard let object = umockdev_ioctl_data_resolve(urbObject, gsize(offset), gsize(length), nil) else {
                data.unref()
                return (-1, EFAULT)
            }
            buffer = IoctlData(pointer: object)
        }
        let urb = URB(
            data: data, buffer: buffer, clientAddress: UInt(urbObject.pointee.client_addr), endpoint: urbStruct.endpoint,
            length: length, owner: owner, flags: urbStruct.flags,
            transfer: Transfer(owner: owner, context: UInt(bitPattern: urbStruct.usercontext)))
        let type = Int32(urbStruct.type)
        return state.withLock { state in
            guard !state.gone else {
                buffer?.unref()
                data.unref()
                return (-1, ENODEV)
            }
            state.seen.urbsSubmitted += 1
            switch type {
            case USBDEVFS_URB_TYPE_CONTROL:
                control(urb, into: &state)
            case USBDEVFS_URB_TYPE_BULK, USBDEVFS_URB_TYPE_INTERRUPT:
                if urb.endpoint & 0x80 != 0 {
                    if !urb.isContinuation {
                        state.ended.remove(urb.transfer)  // the same transfer, submitted again
                    } else if state.ended.contains(urb.transfer) {
                        // The transfer it continues ended short: the device is not asked. Its
                        // last URB lets the endpoint go on to the next transfer.
                        finish(urb, status: -EREMOTEIO, actualLength: 0, into: &state)
                        if urb.isLast {
                            state.ended.remove(urb.transfer)
                            if state.filling[urb.endpoint] == urb.transfer { state.filling[urb.endpoint] = nil }
                            pump(&state)
                        }
                        return (0, 0)
                    }
                    state.pendingIn[urb.endpoint, default: []].append(urb)
                    pump(&state)
                } else {
                    let bytes = urb.buffer.map { Array(UnsafeRawBufferPointer(start: $0.pointer.pointee.data, count: length)) } ?? []
                    switch behavior.transferOut(endpoint: urb.endpoint, data: bytes) {
                    case .accept: finish(urb, status: 0, actualLength: length, into: &state)
                    case .stall: finish(urb, status: -EPIPE, actualLength: 0, into: &state)
                    }
                    pump(&state)  // an OUT often makes IN data ready (a reply)
                }
            default:
                buffer?.unref()
                data.unref()
                return (-1, EINVAL)
            }
            return (0, 0)
        }
    }

    private func control(_ urb: URB, into state: inout State) {
        guard let buffer = urb.buffer, urb.length >= 8,
            let setup = USBControlSetup(bytes: UnsafeRawBufferPointer(start: buffer.pointer.pointee.data, count: 8))
        else {
            finish(urb, status: -EINVAL, actualLength: 0, into: &state)
            return
        }
        state.seen.controlRequests.append(setup)
        let room = min(Int(setup.length), urb.length - 8)
        let reply: USBControlReply
        if setup.requestType == 0x80 && setup.request == USBControlSetup.getDescriptor {
            reply = standardDescriptor(setup).map { .data($0) } ?? .stall
        } else {
            let data =
                setup.direction == .out
                ? Array(UnsafeRawBufferPointer(start: buffer.pointer.pointee.data + 8, count: room)) : []
            reply = behavior.control(setup, data: data)
        }
        switch (reply, setup.direction) {
        case (.data(let bytes), .in):
            let count = min(bytes.count, room)
            UnsafeMutableRawPointer(buffer.pointer.pointee.data + 8).copyMemory(from: bytes, byteCount: count)
            finish(urb, status: 0, actualLength: count, into: &state)
        case (.accept, .out):
            finish(urb, status: 0, actualLength: room, into: &state)
        case (.accept, .in):
            finish(urb, status: 0, actualLength: 0, into: &state)
        case (.data, .out), (.stall, _):
            finish(urb, status: -EPIPE, actualLength: 0, into: &state)
        }
    }

    /// GET_DESCRIPTOR answers from the descriptors (device 1, configuration 2, string 3).
    private func standardDescriptor(_ setup: USBControlSetup) -> [UInt8]? {
        switch setup.value >> 8 {
        case 1: descriptors.deviceDescriptor
        case 2 where setup.value & 0xff == 0: descriptors.configurationDescriptor
        case 3: descriptors.stringDescriptor(index: UInt8(setup.value & 0xff))
        default: nil
        }
    }

    /// Offers every endpoint's next pending IN URB to the behavior until it says `notReady`:
    /// the next URB of the transfer being filled, or, when none is, the earliest queued one.
    /// While the transfer being filled has no URB queued (the host is still submitting it),
    /// the endpoint waits for it.
    private func pump(_ state: inout State) {
        for endpoint in state.pendingIn.keys {
            while let queue = state.pendingIn[endpoint], !queue.isEmpty {
                let index: Int
                if let transfer = state.filling[endpoint] {
                    guard let next = queue.firstIndex(where: { $0.transfer == transfer }) else { break }
                    index = next
                } else {
                    index = 0
                }
                let urb = queue[index]
                let reply = behavior.transferIn(endpoint: endpoint, maxLength: urb.length)
                if case .notReady = reply { break }
                state.pendingIn[endpoint]!.remove(at: index)
                switch reply {
                case .data(let bytes):
                    let count = min(bytes.count, urb.length)
                    if count > 0, let buffer = urb.buffer {
                        UnsafeMutableRawPointer(buffer.pointer.pointee.data).copyMemory(from: bytes, byteCount: count)
                    }
                    let short = count < urb.length
                    let refused = short && !urb.isLast
                    finish(urb, status: refused ? -EREMOTEIO : 0, actualLength: count, into: &state)
                    if short || urb.isLast {
                        end(urb, endpoint: endpoint, into: &state)
                    } else {
                        state.filling[endpoint] = urb.transfer
                    }
                case .stall:
                    finish(urb, status: -EPIPE, actualLength: 0, into: &state)
                    end(urb, endpoint: endpoint, into: &state)
                case .notReady:
                    break
                }
            }
            if state.pendingIn[endpoint]?.isEmpty == true { state.pendingIn[endpoint] = nil }
        }
    }

    /// `urb`'s transfer got its last data. When `urb` was not the transfer's last URB (a short
    /// answer or a stall), the transfer's other URBs complete without data, those queued now
    /// and those still to come; the endpoint fills the next transfer once the last one came.
    private func end(_ urb: URB, endpoint: UInt8, into state: inout State) {
        state.filling[endpoint] = nil
        guard !urb.isLast else { return }
        var sawLast = false
        var kept: [URB] = []
        for queued in state.pendingIn[endpoint] ?? [] {
            if queued.transfer == urb.transfer && queued.isContinuation {
                sawLast = sawLast || queued.isLast
                finish(queued, status: -EREMOTEIO, actualLength: 0, into: &state)
            } else {
                kept.append(queued)
            }
        }
        state.pendingIn[endpoint] = kept
        if !sawLast {
            state.ended.insert(urb.transfer)
            state.filling[endpoint] = urb.transfer
        }
    }

    private func finish(_ urb: URB, status: Int32, actualLength: Int, into state: inout State) {
        urb.data.urb.pointee.status = status
        urb.data.urb.pointee.actual_length = Int32(actualLength)
        urb.buffer?.unref()  // the URB object keeps its resolved buffer until it is reaped
        state.completed[urb.owner, default: []].append(urb.data)
    }

    private func reap(_ arg: UnsafeMutablePointer<UMockdevIoctlData>, owner: UInt) -> (Int, Int32) {
        let (next, gone): (IoctlData?, Bool) = state.withLock { state in
            if state.completed[owner, default: []].isEmpty { pump(&state) }
            guard var queue = state.completed[owner], !queue.isEmpty else { return (nil, state.gone) }
            let next = queue.removeFirst()
            state.completed[owner] = queue.isEmpty ? nil : queue
            return (next, state.gone)
        }
        guard let next else { return gone ? (-1, ENODEV) : (-1, EAGAIN) }
        guard let slot = umockdev_ioctl_data_resolve(arg, 0, gsize(MemoryLayout<UnsafeRawPointer>.size), nil) else {
            next.unref()
            return (-1, EFAULT)
        }
        umockdev_ioctl_data_set_ptr(slot, 0, next.pointer)
        umockdev_ioctl_data_unref(slot)
        next.unref()
        return (0, 0)
    }

    private func discard(_ arg: UnsafeMutablePointer<UMockdevIoctlData>, owner: UInt) -> (Int, Int32) {
        guard arg.pointee.data_len >= MemoryLayout<UInt>.size else { return (-1, EINVAL) }
        let address = UnsafeRawPointer(arg.pointee.data).loadUnaligned(as: UInt.self)
        return state.withLock { state in
            for (endpoint, queue) in state.pendingIn {
                guard let index = queue.firstIndex(where: { $0.clientAddress == address && $0.owner == owner }) else {
                    continue
                }
                let urb = state.pendingIn[endpoint]!.remove(at: index)
                state.seen.urbsDiscarded += 1
                // A cancelled transfer gets no more data (libusb discards all its URBs).
                if state.filling[endpoint] == urb.transfer { state.filling[endpoint] = nil }
                if urb.isLast { state.ended.remove(urb.transfer) }
                finish(urb, status: -ENOENT, actualLength: 0, into: &state)
                return (0, 0)
            }
            return (-1, EINVAL)  // completed already: libusb then waits for the reap
        }
    }
}
