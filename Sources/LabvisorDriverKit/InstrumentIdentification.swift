/// What a device says it is: read from the device by `InstrumentDriver.identify()`.
public struct InstrumentIdentification: Sendable, Hashable, Codable {
    /// The vendor's model name or number.
    public var model: String
    /// The serial number the device reports (may differ from the USB serial).
    public var serialNumber: String?
    /// The firmware version.
    public var firmware: String?
    /// Anything else the device reports (axis count, wavelength, sensor size).
    public var details: [String: JSONValue]

    /// Creates an identification.
    public init(model: String, serialNumber: String? = nil, firmware: String? = nil, details: [String: JSONValue] = [:]) {
        self.model = model
        self.serialNumber = serialNumber
        self.firmware = firmware
        self.details = details
    }

    /// As a JSON object (for call results and documents).
    public var json: JSONValue {
        var object: [String: JSONValue] = ["model": .string(model), "details": .object(details)]
        if let serialNumber { object["serialNumber"] = .string(serialNumber) }
        if let firmware { object["firmware"] = .string(firmware) }
        return .object(object)
    }
}
