import Foundation
import LabvisorCore
import LabvisorProtocol

/// An instrument the store knows: identity to name, first and last seen.
public struct KnownInstrument: Sendable, Hashable, Codable {
    /// The stable identity key (see `InstrumentSighting.identity`).
    public var identity: String
    /// The name it had when last seen.
    public var name: String
    /// Its driver id.
    public var driver: String
    /// When it was first seen.
    public var firstSeen: Date
    /// When it was last seen (added, or its lifecycle changed).
    public var lastSeen: Date
}
