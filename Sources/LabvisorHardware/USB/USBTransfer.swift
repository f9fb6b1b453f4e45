import CLibUSB
import LabvisorCore

/// How a submitted transfer ended: libusb's status and the bytes moved (for control
/// transfers, without the 8-byte setup packet).
struct USBTransferOutcome: Sendable {
    var status: libusb_transfer_status
    var actualLength: Int
    /// Set when the transfer was cancelled by us: why.
    var cancelReason: USBCancelReason?
}

/// One libusb transfer (`libusb_alloc_transfer`) with its buffer, submitted and completed
/// through a C callback on the context's event thread.
///
/// Memory: while the transfer is in flight, libusb's `user_data` holds a retained reference
/// to this object (released by the callback), so the transfer and its buffer stay alive until
/// the callback ran, even after a cancel or after every caller has gone. They are freed in
/// `deinit`. A transfer may be submitted again after its callback ran (streams reuse theirs).
final class USBTransfer: Sendable {
    private enum Phase {
        case idle
        case inFlight(onComplete: @Sendable (USBTransferOutcome) -> Void)
    }

    private struct State {
        var phase: Phase = .idle
        /// Set by `cancel`: an idle transfer refuses to be submitted, an in-flight one is cancelled.
        var cancelReason: USBCancelReason?
    }

    /// The libusb transfer and buffer addresses. `@unchecked Sendable` is sound: libusb
    /// accesses the transfer only between submit and callback; we touch the buffer only
    /// before submit and after the callback (both ordered by `state`'s lock and libusb's).
    private struct Storage: @unchecked Sendable {
        let transfer: UnsafeMutablePointer<libusb_transfer>
        let buffer: UnsafeMutableRawBufferPointer
    }

    private let storage: Storage
    private let state = LockedState(State())
    /// libusb frees a transfer through its device's context: the context must not be exited
    /// before every transfer is freed, so each one keeps it alive and counted.
    private let context: USBContext
    /// What this transfer is, for error messages.
    let description: USBTransferDescription
    /// Bytes before the data stage in the buffer: 8 (the setup packet) for control transfers.
    let dataOffset: Int
    /// Capacity of the data stage.
    let capacity: Int

    private init(
        context: USBContext, description: USBTransferDescription, dataOffset: Int, capacity: Int
    ) throws(LabvisorError) {
        guard let transfer = libusb_alloc_transfer(0) else {
            throw LabvisorError.resourceExhausted("libusb transfers (libusb_alloc_transfer failed)", value: 0)
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, dataOffset + capacity), alignment: 16)
        storage = Storage(transfer: transfer, buffer: buffer)
        self.description = description
        self.dataOffset = dataOffset
        self.capacity = capacity
        self.context = context
        context.transferAllocated()
    }

    deinit {
        // libusb_free_transfer logs through transfer->dev_handle, which may be closed by now
        // (a stream can outlive its device); without a handle it logs to no context.
        storage.transfer.pointee.dev_handle = nil
        libusb_free_transfer(storage.transfer)
        storage.buffer.deallocate()
        context.transferFreed()
    }

    /// A control transfer: setup packet, then `data` (OUT) or room for `setup.length` bytes (IN).
    static func control(
        context: USBContext, handle: LibUSBPointer, setup: USBControlSetup, data: [UInt8], timeout: Duration?, description: USBTransferDescription
    ) throws(LabvisorError) -> USBTransfer {
        let transfer = try USBTransfer(context: context, description: description, dataOffset: 8, capacity: Int(setup.length))
        let base = transfer.storage.buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
        libusb_fill_control_setup(base, setup.requestType, setup.request, setup.value, setup.index, setup.length)
        if setup.direction == .out { transfer.write(data) }
        libusb_fill_control_transfer(transfer.storage.transfer, handle.raw, base, usbTransferCallback, nil, milliseconds(timeout))
        return transfer
    }

    /// A bulk or interrupt transfer of `length` bytes on `endpoint` (`data` for OUT endpoints).
    static func data(
        context: USBContext, handle: LibUSBPointer, type: USBTransferType, endpoint: UInt8, length: Int, data: [UInt8], timeout: Duration?,
        description: USBTransferDescription
    ) throws(LabvisorError) -> USBTransfer {
        let transfer = try USBTransfer(context: context, description: description, dataOffset: 0, capacity: length)
        let base = transfer.storage.buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
        if USBDirection(endpointAddress: endpoint) == .out { transfer.write(data) }
        let fill = type == .interrupt ? libusb_fill_interrupt_transfer : libusb_fill_bulk_transfer
        fill(
            transfer.storage.transfer, handle.raw, endpoint, base, Int32(length), usbTransferCallback, nil,
            milliseconds(timeout))
        return transfer
    }

    private func write(_ data: [UInt8]) {
        data.withUnsafeBytes { bytes in
            let count = min(bytes.count, capacity)
            UnsafeMutableRawBufferPointer(rebasing: storage.buffer[dataOffset..<(dataOffset + count)])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[..<count]))
        }
    }

    /// The first `count` bytes of the data stage. Only between the callback and the next submit.
    func payload(count: Int) -> [UInt8] {
        let count = min(max(0, count), capacity)
        return Array(UnsafeRawBufferPointer(rebasing: storage.buffer[dataOffset..<(dataOffset + count)]))
    }

    /// Submits the transfer; `onComplete` runs on the event thread when it ends (completed,
    /// failed, timed out or cancelled).
    ///
    /// - Throws: the cancel reason's error when `cancel` came first; libusb's submit error
    ///   otherwise (`deviceGone` for `LIBUSB_ERROR_NO_DEVICE`).
    func submit(_ onComplete: @escaping @Sendable (USBTransferOutcome) -> Void) throws(LabvisorError) {
        // The lock is held across libusb_submit_transfer so a concurrent `cancel` either
        // comes first (and the transfer is not submitted) or sees it in flight.
        try state.withLock { (state: inout State) throws(LabvisorError) in
            if let reason = state.cancelReason {
                throw USBErrors.transfer(LIBUSB_TRANSFER_CANCELLED, description, cancelReason: reason)
            }
            guard case .idle = state.phase else {
                preconditionFailure("\(description) submitted twice")
            }
            let retained = Unmanaged.passRetained(self).toOpaque()
            storage.transfer.pointee.user_data = retained
            let result = libusb_submit_transfer(storage.transfer)
            guard result == 0 else {
                Unmanaged<USBTransfer>.fromOpaque(retained).release()
                throw USBErrors.libusb(result, "submit the \(description)", device: description.device)
            }
            state.phase = .inFlight(onComplete: onComplete)
        }
    }

    /// Cancels the transfer: an in-flight one ends soon with `CANCELLED` (its callback still
    /// runs), an idle one refuses its next submit. The first reason given is kept.
    func cancel(_ reason: USBCancelReason) {
        state.withLock { state in
            if state.cancelReason == nil { state.cancelReason = reason }
            guard case .inFlight = state.phase else { return }
            // NOT_FOUND: it completed already and its callback is about to run.
            _ = libusb_cancel_transfer(storage.transfer)
        }
    }

    /// The callback's half: called on the event thread with the retained reference.
    fileprivate func completed() {
        let status = storage.transfer.pointee.status
        let actualLength = Int(storage.transfer.pointee.actual_length)
        let (onComplete, reason) = state.withLock { state -> ((@Sendable (USBTransferOutcome) -> Void)?, USBCancelReason?) in
            guard case .inFlight(let onComplete) = state.phase else { return (nil, nil) }
            state.phase = .idle
            return (onComplete, state.cancelReason)
        }
        let outcome = USBTransferOutcome(
            status: status, actualLength: actualLength, cancelReason: status == LIBUSB_TRANSFER_CANCELLED ? reason : nil)
        onComplete?(outcome)
    }

    /// libusb's timeout in milliseconds: 0 means none; anything positive is at least 1 ms.
    private static func milliseconds(_ timeout: Duration?) -> UInt32 {
        guard let timeout, timeout > .zero else { return 0 }
        let (seconds, attoseconds) = timeout.components
        let milliseconds = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return UInt32(clamping: max(1, milliseconds))
    }
}

/// The C callback of every transfer: takes back the reference `submit` retained.
private let usbTransferCallback: libusb_transfer_cb_fn = { transfer in
    guard let userData = transfer?.pointee.user_data else { return }
    Unmanaged<USBTransfer>.fromOpaque(userData).takeRetainedValue().completed()
}
