import Foundation
import LabvisorSimulation

/// The device side of the Acme TC-1: answers the line protocol of README.md and models the
/// temperature as a first-order approach to the set-point while heating, and to the ambient
/// temperature while not.
public struct ExampleHeaterDevice: SerialDeviceModel {
    /// Room temperature, °C.
    public var ambient = 22.0
    /// Time constant of the approach, seconds.
    public var timeConstant = 0.5
    /// The set-point, °C.
    public var setpoint = 25.0
    /// Whether the heater is on.
    public private(set) var heating = false
    /// The serial number `*IDN?` reports.
    public var serialNumber = "TC1-0042"

    private var temperature = 22.0
    private var updated: ContinuousClock.Instant?

    /// A device at ambient temperature with its heater off.
    public init() {}

    public func makeDecoder() -> LineFrameDecoder { LineFrameDecoder(terminator: .lineFeed, maxLength: 256) }

    /// The temperature at `now`.
    public mutating func temperature(at now: ContinuousClock.Instant) -> Double {
        if let updated {
            let elapsed = (now - updated).seconds
            let goal = heating ? setpoint : ambient
            temperature = goal + (temperature - goal) * exp(-elapsed / timeConstant)
        }
        updated = now
        return temperature
    }

    public mutating func respond(to request: String, at now: ContinuousClock.Instant) -> [UInt8] {
        _ = temperature(at: now)
        let words = request.split(separator: " ").map(String.init)
        let reply: String
        switch (words.first?.uppercased(), words.count) {
        case ("*IDN?", 1): reply = "ACME,TC-1,\(serialNumber),1.2.0"
        case ("TEMP?", 1): reply = String(format: "%.3f", temperature)
        case ("SETP?", 1): reply = String(format: "%.3f", setpoint)
        case ("SETP", 2):
            if let value = Double(words[1]), (0...150).contains(value) {
                setpoint = value
                reply = "OK"
            } else {
                reply = "ERR 2 out of range"
            }
        case ("HEAT?", 1): reply = heating ? "ON" : "OFF"
        case ("HEAT", 2) where ["ON", "OFF"].contains(words[1].uppercased()):
            heating = words[1].uppercased() == "ON"
            reply = "OK"
        default: reply = "ERR 1 unknown command"
        }
        return Array((reply + "\r\n").utf8)
    }

    public mutating func respondToGarbage(_ error: LabvisorError, at now: ContinuousClock.Instant) -> [UInt8] {
        Array("ERR 1 unknown command\r\n".utf8)
    }
}
