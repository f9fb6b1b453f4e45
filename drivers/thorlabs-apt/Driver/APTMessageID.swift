import LabvisorDriverKit

/// The APT message ids the driver sends and understands (Thorlabs "APT Communications
/// Protocol"; cross-checked with `thorlabs_apt_protocol`'s `functions.py` / `parsing.py`).
enum APTMessageID {
    static let hwReqInfo: UInt16 = 0x0005
    static let hwGetInfo: UInt16 = 0x0006
    static let hwStartUpdateMessages: UInt16 = 0x0011
    static let hwStopUpdateMessages: UInt16 = 0x0012
    static let hwResponse: UInt16 = 0x0080
    static let hwRichResponse: UInt16 = 0x0081
    static let motReqPositionCounter: UInt16 = 0x0411
    static let motGetPositionCounter: UInt16 = 0x0412
    static let motReqVelocityParams: UInt16 = 0x0414
    static let motGetVelocityParams: UInt16 = 0x0415
    static let motMoveHome: UInt16 = 0x0443
    static let motMoveHomed: UInt16 = 0x0444
    static let motMoveRelative: UInt16 = 0x0448
    static let motMoveAbsolute: UInt16 = 0x0453
    static let motMoveCompleted: UInt16 = 0x0464
    static let motMoveStop: UInt16 = 0x0465
    static let motMoveStopped: UInt16 = 0x0466
    static let motGetStatusUpdate: UInt16 = 0x0481
    static let motReqDCStatusUpdate: UInt16 = 0x0490
    static let motGetDCStatusUpdate: UInt16 = 0x0491
    static let motAckDCStatusUpdate: UInt16 = 0x0492

    /// The replies that answer a request, by request id. Moves and homing are absent: their
    /// completion messages come long after, and the driver waits for them as unsolicited
    /// messages (`ThorlabsAPTDriver.waitForMotion`).
    static let replies: [UInt16: Set<UInt16>] = [
        hwReqInfo: [hwGetInfo],
        motReqPositionCounter: [motGetPositionCounter],
        motReqVelocityParams: [motGetVelocityParams],
        motMoveStop: [motMoveStopped],
        motReqDCStatusUpdate: [motGetDCStatusUpdate],
    ]

    /// Whether `frame` answers `request`: its reply id, or an error report
    /// (HW_RESPONSE, or HW_RICHRESPONSE naming the request's id or none).
    ///
    /// Anything else (status updates, move completions) is unsolicited. Used as the
    /// `SerialExchange`'s `isResponse`.
    static func isReply(_ frame: [UInt8], to request: [UInt8]) -> Bool {
        guard frame.count >= 6, request.count >= 6 else { return false }
        let requestID = UInt16(request[0]) | UInt16(request[1]) << 8
        let frameID = UInt16(frame[0]) | UInt16(frame[1]) << 8
        if frameID == hwResponse { return true }
        if frameID == hwRichResponse {
            guard frame.count >= 8 else { return true }
            let about = UInt16(frame[6]) | UInt16(frame[7]) << 8
            return about == requestID || about == 0
        }
        return replies[requestID]?.contains(frameID) ?? false
    }
}
