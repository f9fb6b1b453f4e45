import Foundation
import LabvisorCore
import LabvisorProtocol

/// One thing the state store writes. The daemon hands these to `StoreService.record(_:)`,
/// which queues them (never waiting for SQLite); the service's own task writes them.
public enum StoreRecord: Sendable, Hashable {
    /// A lease ended: its allocation record (with its release reason).
    case allocation(AllocationRecord)
    /// An administrative action.
    case audit(AuditLogEntry)
    /// An instrument was added to the inventory (first seen, or seen again).
    case instrumentSeen(InstrumentSighting)
    /// An instrument was active (its lifecycle changed): its last-seen time moves on.
    case instrumentActive(name: String, at: Date)
}
