import CLibUSB
import LabvisorCore

/// The errors of the USB layer: libusb's error codes and transfer statuses turned into
/// `LabvisorError`s whose sentences name the device, the endpoint and the operation.
enum USBErrors {
    /// An error returned by a libusb call (`LIBUSB_ERROR_*`), while doing `operation`.
    static func libusb(_ code: Int32, _ operation: String, device: USBDeviceInfo?) -> LabvisorError {
        let name = USBContext.errorName(code)
        var fields: [String: JSONValue] = ["libusb_error": .string(name), "operation": .string(operation)]
        if let device { fields["device"] = .string(device.label) }
        switch code {
        case LIBUSB_ERROR_NO_DEVICE.rawValue:
            return gone(device, while: operation)
        case LIBUSB_ERROR_NOT_FOUND.rawValue:
            return LabvisorError(.notFound, "could not \(operation): not found (\(name))", fields: fields)
        case LIBUSB_ERROR_ACCESS.rawValue:
            return LabvisorError(.permissionDenied, "could not \(operation): permission denied (\(name))", fields: fields)
        case LIBUSB_ERROR_BUSY.rawValue:
            return LabvisorError(.unavailable, "could not \(operation): busy, claimed by another driver or process (\(name))", fields: fields)
        case LIBUSB_ERROR_TIMEOUT.rawValue:
            return LabvisorError(.timeout, "could not \(operation): timed out (\(name))", fields: fields)
        case LIBUSB_ERROR_INVALID_PARAM.rawValue:
            return LabvisorError(.invalidArgument, "could not \(operation): invalid argument (\(name))", fields: fields)
        case LIBUSB_ERROR_NO_MEM.rawValue:
            return LabvisorError(.resourceExhausted, "could not \(operation): out of memory (\(name))", fields: fields)
        default:
            return LabvisorError(.driverFault, "could not \(operation): \(name)", fields: fields)
        }
    }

    /// The device went away (unplugged) during `operation`.
    static func gone(_ device: USBDeviceInfo?, while operation: String) -> LabvisorError {
        let label = device?.label ?? "unknown"
        return LabvisorError(
            .deviceGone, "USB device \(label) is gone (unplugged during \(operation))",
            fields: ["device": .string(label), "operation": .string(operation)])
    }

    /// The error of a transfer that ended with `status` other than `COMPLETED`.
    static func transfer(
        _ status: libusb_transfer_status, _ transfer: USBTransferDescription, cancelReason: USBCancelReason?
    ) -> LabvisorError {
        var fields: [String: JSONValue] = [
            "device": .string(transfer.device.label), "endpoint": .string(USBControlSetup.hex(transfer.endpoint)),
            "transfer": .string(transfer.kind),
        ]
        switch status {
        case LIBUSB_TRANSFER_TIMED_OUT:
            fields["timeout_s"] = .double(transfer.timeout?.seconds ?? 0)
            return LabvisorError(
                .timeout,
                "\(transfer) got no answer within \(transfer.timeout?.seconds ?? 0) s",
                fields: fields)
        case LIBUSB_TRANSFER_NO_DEVICE:
            return gone(transfer.device, while: "\(transfer)")
        case LIBUSB_TRANSFER_STALL:
            fields["reason"] = "stall"
            if let setup = transfer.setup { fields["setup"] = .string(setup.description) }
            let what = transfer.setup.map { " (\($0))" } ?? ""
            return LabvisorError(.driverFault, "\(transfer)\(what) stalled: the device refused it", fields: fields)
        case LIBUSB_TRANSFER_OVERFLOW:
            fields["reason"] = "overflow"
            return LabvisorError(.driverFault, "\(transfer) overflowed: the device sent more than asked for", fields: fields)
        case LIBUSB_TRANSFER_CANCELLED:
            switch cancelReason {
            case .closed?:
                return LabvisorError(.closed, "\(transfer) was cut short: the device was closed", fields: fields)
            case .deviceGone?:
                return gone(transfer.device, while: "\(transfer)")
            case .task?, nil:
                return .cancelled("\(transfer)")
            }
        default:
            fields["reason"] = "error"
            return LabvisorError(.driverFault, "\(transfer) failed (transfer error)", fields: fields)
        }
    }
}

/// Why a transfer was cancelled: decides the error its caller gets.
enum USBCancelReason: Sendable {
    /// The calling task was cancelled: `LabvisorError.cancelled`.
    case task
    /// The device (or its context) is being closed: `closed`.
    case closed
    /// The device is known to be gone: `deviceGone`.
    case deviceGone
}

/// What a transfer is, for error messages: "bulk IN transfer on endpoint 0x81 of USB device 1-5 (2939:0001)".
struct USBTransferDescription: Sendable, CustomStringConvertible {
    var kind: String
    var endpoint: UInt8
    var device: USBDeviceInfo
    var timeout: Duration?
    var setup: USBControlSetup?

    var description: String {
        "\(kind) transfer on endpoint \(USBControlSetup.hex(endpoint)) of USB device \(device.label)"
    }
}
