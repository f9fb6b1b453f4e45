import CLibUSB
import LabvisorCore

/// An open USB device (a libusb device handle): interfaces, kernel drivers, and the
/// transfers in `USBDevice+Transfers.swift`. Made by `USBContext.open`.
///
/// Every transfer in flight is tracked. `close()` refuses new transfers, cancels those in
/// flight (their callers get `closed`), waits for their callbacks (bounded), releases the
/// claimed interfaces and closes the handle. Once a transfer reports the device gone, later
/// calls fail with `deviceGone` at once.
public final class USBDevice: Sendable {
    private struct State {
        var closed = false
        var gone = false
        var claimed: Set<UInt8> = []
        var inFlight: [ObjectIdentifier: USBTransfer] = [:]
        /// `close()` waiting for `inFlight` to empty.
        var drainWaiter: WaitContinuation<Void, any Error>?
    }

    /// The device's descriptors, as enumerated when it was opened.
    public let info: USBDeviceInfo
    let context: USBContext
    let handle: LibUSBPointer
    private let number: UInt64
    private let state = LockedState(State())

    /// How long `close()` waits for cancelled transfers to call back.
    public static let closeDrainLimit: Duration = .seconds(2)

    init(context: USBContext, handle: LibUSBPointer, info: USBDeviceInfo, number: UInt64) {
        self.context = context
        self.handle = handle
        self.info = info
        self.number = number
    }

    deinit {
        // Every in-flight transfer is owned by a caller or a stream that keeps this object
        // alive, so none is in flight here.
        let (closed, claimed) = state.withLock { ($0.closed, $0.claimed) }
        guard !closed else { return }
        for interface in claimed { _ = libusb_release_interface(handle.raw, Int32(interface)) }
        libusb_close(handle.raw)
        context.forget(deviceNumber: number)
    }

    /// Whether a transfer or call found the device unplugged.
    public var isGone: Bool { state.withLock { $0.gone } }

    /// Whether the device is unplugged: known gone, or a standard GET_STATUS request (250 ms)
    /// fails with `deviceGone`. For telling an unplug from a device fault after a transfer
    /// error.
    public func isUnplugged() async -> Bool {
        if isGone { return true }
        do {
            _ = try await control(requestType: 0x80, request: 0x00, value: 0, index: 0, length: 2, timeout: .milliseconds(250))
            return false
        } catch {
            return error.code == .deviceGone || isGone
        }
    }

    /// Whether `close()` was called.
    public var isClosed: Bool { state.withLock { $0.closed } }

    /// Transfers currently in flight.
    public var transfersInFlight: Int { state.withLock { $0.inFlight.count } }

    // MARK: Interfaces

    /// Claims an interface (needed before transfers on its endpoints). With
    /// `detachKernelDriver` at open, libusb first detaches a kernel driver bound to it.
    public func claim(interface: UInt8) throws(LabvisorError) {
        try checkUsable("claim interface \(interface)")
        let result = libusb_claim_interface(handle.raw, Int32(interface))
        guard result == 0 else { throw fail(result, "claim interface \(interface) of USB device \(info.label)") }
        state.withLock { _ = $0.claimed.insert(interface) }
    }

    /// Releases a claimed interface (reattaching a kernel driver detached by `claim`).
    public func release(interface: UInt8) throws(LabvisorError) {
        try checkUsable("release interface \(interface)")
        let result = libusb_release_interface(handle.raw, Int32(interface))
        state.withLock { _ = $0.claimed.remove(interface) }
        guard result == 0 else { throw fail(result, "release interface \(interface) of USB device \(info.label)") }
    }

    /// The interfaces claimed now.
    public var claimedInterfaces: Set<UInt8> { state.withLock { $0.claimed } }

    /// Selects an alternate setting of a claimed interface (SET_INTERFACE).
    public func setAlternateSetting(_ setting: UInt8, interface: UInt8) throws(LabvisorError) {
        try checkUsable("set alternate setting \(setting) of interface \(interface)")
        let result = libusb_set_interface_alt_setting(handle.raw, Int32(interface), Int32(setting))
        guard result == 0 else {
            throw fail(result, "select alternate setting \(setting) of interface \(interface) of USB device \(info.label)")
        }
    }

    /// Whether a kernel driver is bound to the interface.
    public func kernelDriverActive(interface: UInt8) throws(LabvisorError) -> Bool {
        try checkUsable("query the kernel driver of interface \(interface)")
        let result = libusb_kernel_driver_active(handle.raw, Int32(interface))
        guard result >= 0 else {
            throw fail(result, "query the kernel driver of interface \(interface) of USB device \(info.label)")
        }
        return result == 1
    }

    /// Detaches the kernel driver bound to the interface (only when asked: a driver's
    /// manifest sets `detach_kernel_driver`).
    public func detachKernelDriver(interface: UInt8) throws(LabvisorError) {
        try checkUsable("detach the kernel driver of interface \(interface)")
        let result = libusb_detach_kernel_driver(handle.raw, Int32(interface))
        guard result == 0 else {
            throw fail(result, "detach the kernel driver of interface \(interface) of USB device \(info.label)")
        }
    }

    // MARK: Close

    /// Cancels the transfers in flight (their callers get `closed`), waits up to
    /// `closeDrainLimit` for their callbacks, releases the claimed interfaces and closes the
    /// handle. Idempotent. Not cancellable: it always finishes within the limit.
    ///
    /// - Throws: `timeout` when a callback did not come within the limit; the handle is then
    ///   left open (closing it would free memory libusb still uses) and the device stays
    ///   unusable.
    public func close() async throws(LabvisorError) {
        let inFlight: [USBTransfer]? = state.withLock { state in
            guard !state.closed else { return nil }
            state.closed = true
            return Array(state.inFlight.values)
        }
        guard let inFlight else { return }
        for transfer in inFlight { transfer.cancel(.closed) }
        do {
            try await drain(within: Self.closeDrainLimit)
        } catch {
            throw LabvisorError(
                .timeout,
                "USB device \(info.label): \(transfersInFlight) cancelled transfers did not end within "
                    + "\(Self.closeDrainLimit.seconds) s; its handle stays open",
                fields: ["device": .string(info.label), "timeout_s": .double(Self.closeDrainLimit.seconds)])
        }
        let claimed = state.withLock { state in
            defer { state.claimed = [] }
            return state.claimed
        }
        for interface in claimed { _ = libusb_release_interface(handle.raw, Int32(interface)) }
        libusb_close(handle.raw)
        context.forget(deviceNumber: number)
    }

    /// Waits until no transfer is in flight, up to `limit` (task cancellation is ignored: the
    /// limit bounds the wait).
    private func drain(within limit: Duration) async throws {
        try await suspend(
            until: .now + limit,
            register: { (continuation: WaitContinuation<Void, any Error>) in
                let empty = state.withLock { state in
                    if state.inFlight.isEmpty { return true }
                    state.drainWaiter = continuation
                    return false
                }
                if empty { continuation.resume() }
            },
            expire: { [state] end in
                guard end == .deadline else { return }
                let waiter = state.withLock { state in
                    defer { state.drainWaiter = nil }
                    return state.drainWaiter
                }
                waiter?.resume(throwing: LabvisorError(.timeout, "transfers did not drain"))
            })
    }

    // MARK: Transfers (shared by the calls and the streams)

    /// Submits `transfer` and tracks it; `onComplete` runs on the event thread once it ended
    /// and is no longer tracked.
    func submit(_ transfer: USBTransfer, _ onComplete: @escaping @Sendable (USBTransferOutcome) -> Void) throws(LabvisorError) {
        let id = ObjectIdentifier(transfer)
        try state.withLock { (state: inout State) throws(LabvisorError) in
            if state.closed { throw LabvisorError.closed("USB device \(info.label)") }
            if state.gone { throw USBErrors.gone(info, while: "\(transfer.description)") }
            state.inFlight[id] = transfer
        }
        do {
            try transfer.submit { [self] outcome in
                let waiter = state.withLock { state -> WaitContinuation<Void, any Error>? in
                    if outcome.status == LIBUSB_TRANSFER_NO_DEVICE { state.gone = true }
                    state.inFlight[id] = nil
                    guard state.inFlight.isEmpty else { return nil }
                    defer { state.drainWaiter = nil }
                    return state.drainWaiter
                }
                onComplete(outcome)
                waiter?.resume()
            }
        } catch {
            state.withLock { state in
                state.inFlight[id] = nil
                if error.code == .deviceGone { state.gone = true }
            }
            throw error
        }
    }

    /// Submits `transfer` and waits for its end. Cancelling the calling task cancels the
    /// transfer; the call then ends once libusb called back, with `LabvisorError.cancelled`.
    func perform(_ transfer: USBTransfer) async throws(LabvisorError) -> Int {
        let outcome: USBTransferOutcome
        do {
            outcome = try await suspend(
                until: nil,
                register: { (continuation: WaitContinuation<USBTransferOutcome, any Error>) in
                    do {
                        try submit(transfer) { outcome in continuation.resume(returning: outcome) }
                    } catch {
                        continuation.resume(throwing: error)
                    }
                },
                expire: { _ in transfer.cancel(.task) })
        } catch let error as LabvisorError {
            throw error
        } catch {
            throw LabvisorError.cancelled("\(transfer.description)")
        }
        guard outcome.status == LIBUSB_TRANSFER_COMPLETED else {
            throw USBErrors.transfer(outcome.status, transfer.description, cancelReason: outcome.cancelReason)
        }
        return outcome.actualLength
    }

    private func checkUsable(_ operation: String) throws(LabvisorError) {
        let (closed, gone) = state.withLock { ($0.closed, $0.gone) }
        if closed { throw LabvisorError.closed("USB device \(info.label)") }
        if gone { throw USBErrors.gone(info, while: operation) }
    }

    /// The error of a failed synchronous libusb call; marks the device gone on NO_DEVICE.
    private func fail(_ result: Int32, _ operation: String) -> LabvisorError {
        if result == LIBUSB_ERROR_NO_DEVICE.rawValue { state.withLock { $0.gone = true } }
        return USBErrors.libusb(result, operation, device: info)
    }
}
