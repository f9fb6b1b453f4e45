import Foundation
import LabvisorCore
import LabvisorProtocol

/// An instrument as the inventory saw it: its stable identity, its name and driver.
public struct InstrumentSighting: Sendable, Hashable {
    /// The stable identity key: `DeviceIdentity.stableKey` for a device
    /// (`VID:PID:serial`, `VID:PID@port-path` or the udev override), `config:<name>` for an
    /// instrument with no device (simulated, built-in).
    public var identity: String
    /// Its name in the inventory.
    public var name: String
    /// Its driver id.
    public var driver: String
    /// When it was seen.
    public var at: Date

    /// Creates a sighting.
    public init(identity: String, name: String, driver: String, at: Date = Date()) {
        self.identity = identity
        self.name = name
        self.driver = driver
        self.at = at
    }
}
