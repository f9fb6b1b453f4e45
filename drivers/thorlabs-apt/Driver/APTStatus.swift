import LabvisorDriverKit

/// A motor channel's status as MOT_GET_DCSTATUSUPDATE (0x0491), MOT_MOVE_COMPLETED (0x0464)
/// and MOT_MOVE_STOPPED (0x0466) report it: position counter, velocity, status bits.
///
/// Data packet (14 bytes): channel (word), position (long, encoder counts), velocity
/// (word), motor current / reserved (word), status bits (dword).
public struct APTStatus: Sendable, Hashable {
    /// The position counter, encoder counts.
    public var position: Int32
    /// The velocity field as the controller reports it (device units, signed).
    public var velocity: Int16
    /// The status bits.
    public var bits: UInt32

    /// A status from its fields.
    public init(position: Int32, velocity: Int16 = 0, bits: UInt32) {
        self.position = position
        self.velocity = velocity
        self.bits = bits
    }

    /// Decodes the 14-byte status data of `message`.
    ///
    /// - Throws: `driverFault` when the packet is too short.
    public init(_ message: APTMessage) throws(LabvisorError) {
        position = try message.long(at: 2)
        velocity = Int16(bitPattern: try message.word(at: 6))
        bits = try message.dword(at: 10)
    }

    /// Status bits (APT protocol, "status bits" of MOT_GET_DCSTATUSUPDATE).
    public enum Bit {
        /// Forward (clockwise) hardware limit switch active.
        public static let forwardLimit: UInt32 = 0x0000_0001
        /// Reverse (counter-clockwise) hardware limit switch active.
        public static let reverseLimit: UInt32 = 0x0000_0002
        /// Moving forward.
        public static let movingForward: UInt32 = 0x0000_0010
        /// Moving in reverse.
        public static let movingReverse: UInt32 = 0x0000_0020
        /// Jogging forward.
        public static let joggingForward: UInt32 = 0x0000_0040
        /// Jogging in reverse.
        public static let joggingReverse: UInt32 = 0x0000_0080
        /// A motor is connected.
        public static let motorConnected: UInt32 = 0x0000_0100
        /// Homing in progress.
        public static let homing: UInt32 = 0x0000_0200
        /// Homed: the position counter is referenced.
        public static let homed: UInt32 = 0x0000_0400
        /// Motion error (excessive position error).
        public static let motionError: UInt32 = 0x0000_4000
        /// Motor current limit reached.
        public static let currentLimit: UInt32 = 0x0100_0000
        /// The channel is enabled.
        public static let channelEnabled: UInt32 = 0x8000_0000
    }

    /// Whether any of `bit` is set.
    public func has(_ bit: UInt32) -> Bool { bits & bit != 0 }

    /// Moving (forward, reverse or jogging) or homing.
    public var moving: Bool {
        has(Bit.movingForward | Bit.movingReverse | Bit.joggingForward | Bit.joggingReverse | Bit.homing)
    }

    /// Homed.
    public var homed: Bool { has(Bit.homed) }

    /// The status as clients see it, with the position in `scale`'s unit.
    public func json(scale: APTStageScale) -> JSONValue {
        .object([
            "position": .double(scale.units(fromCounts: position)),
            "unit": .string(scale.unit),
            "counts": .int(Int(position)),
            "moving": .bool(moving),
            "movingForward": .bool(has(Bit.movingForward | Bit.joggingForward)),
            "movingReverse": .bool(has(Bit.movingReverse | Bit.joggingReverse)),
            "homing": .bool(has(Bit.homing)),
            "homed": .bool(homed),
            "forwardLimit": .bool(has(Bit.forwardLimit)),
            "reverseLimit": .bool(has(Bit.reverseLimit)),
            "motorConnected": .bool(has(Bit.motorConnected)),
            "motionError": .bool(has(Bit.motionError)),
            "channelEnabled": .bool(has(Bit.channelEnabled)),
            "bits": .int(Int(bits)),
        ])
    }
}
