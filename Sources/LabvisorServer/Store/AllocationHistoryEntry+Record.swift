import Foundation
import LabvisorCore
import LabvisorProtocol

extension AllocationHistoryEntry {
    /// The history entry of an ended allocation record (a live one counts as released now).
    public init(_ record: AllocationRecord) {
        var revokedBy: String?
        var detail: String?
        switch record.releaseReason {
        case .revoked(let by, let reason)?:
            revokedBy = by
            detail = reason
        case .instrumentGone(let reason)?:
            detail = reason
        default: break
        }
        self.init(
            lease: record.leaseID, holder: record.holderName, uid: record.uid, pid: record.pid,
            instruments: record.instruments, requirements: record.requirements,
            queuedAt: record.queuedAt.timeIntervalSince1970, grantedAt: record.startedAt.timeIntervalSince1970,
            releasedAt: (record.releasedAt ?? Date()).timeIntervalSince1970,
            reason: record.releaseReason?.code ?? ReleaseReason.released.code, revokedBy: revokedBy, detail: detail)
    }
}
