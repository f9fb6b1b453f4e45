import ArgumentParser
import Foundation
import LabvisorClient

/// `labvisor history [--instrument N] [--since T] [--limit N] [--json | --csv] [--audit]`.
struct HistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "Show the usage history (ended leases), or with --audit the audit log of administrative actions.",
        discussion: """
            Newest first. Each lease: when it ended, its id, the holder, the instruments, how long it was waited \
            for and held, and why it ended (released, clientDisconnected, revoked by whom and why, \
            instrumentGone, shutdown). Leases held now are in `labvisor leases`. Without a state store \
            (labvisord's state_dir), the daemon answers from memory: the leases since it started.
            """)
    @OptionGroup var options: ClientOptions
    @Option(help: "Only leases that held this instrument.") var instrument: String?
    @Option(
        help: """
            Only what ended at or after T: an ISO 8601 time (2026-11-22T09:30:00Z, or a date 2026-11-22 for local \
            midnight), or a duration back from now (90s, 30m, 2h, 7d, 2w).
            """)
    var since: String?
    @Option(help: "The most entries to show (1-10000).") var limit: Int = 100
    @Flag(help: "Print comma-separated values (times in ISO 8601 UTC) instead of a table.") var csv = false
    @Flag(help: "Show the audit log (revocations, configuration reloads) instead of the lease history.") var audit = false

    func validate() throws {
        if csv && options.json { throw ValidationError("give --json or --csv, not both") }
        if audit && instrument != nil { throw ValidationError("--instrument selects leases; the audit log has no instrument filter") }
        guard (1...10_000).contains(limit) else { throw ValidationError("--limit must be between 1 and 10000, got \(limit)") }
    }

    func run() async throws {
        let since = try self.since.map { try parseSince($0, now: Date()) }
        try await options.run { labvisor in
            if audit {
                let entries = try await labvisor.audit(since: since, limit: limit)
                if options.json { return try options.printJSON(entries) }
                print(csv ? HistoryFormat.csv(entries) : HistoryFormat.table(entries), terminator: "")
                return
            }
            let history = try await labvisor.history(instrument: instrument, since: since, limit: limit)
            if options.json { return try options.printJSON(history.records) }
            print(csv ? HistoryFormat.csv(history.records) : HistoryFormat.table(history.records), terminator: "")
            if !history.persistent && !csv {
                FileHandle.standardError.write(Data("note: the daemon has no state store; this is its memory since it started\n".utf8))
            }
        }
    }
}

/// `--since`: an ISO 8601 time, a date (local midnight), or a duration back from `now`.
func parseSince(_ text: String, now: Date) throws -> Date {
    if let back = try? parseDuration(text), back.seconds.isFinite { return now.addingTimeInterval(-back.seconds) }
    if let date = try? Date(text, strategy: .iso8601) { return date }
    let fractional = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
    if let date = try? Date(text, strategy: fractional) { return date }
    let day = DateFormatter()
    day.locale = Locale(identifier: "en_US_POSIX")
    day.dateFormat = "yyyy-MM-dd"
    if text.count == 10, let date = day.date(from: text) { return date }
    throw ValidationError("--since '\(text)' is neither an ISO 8601 time (2026-11-22T09:30:00Z, 2026-11-22) nor a duration (30m, 2h, 7d)")
}

/// The table and CSV forms of `labvisor history`.
enum HistoryFormat {
    static func table(_ records: [AllocationHistoryEntry]) -> String {
        let rows = records.map { record -> [String] in
            var reason = record.reason
            if let by = record.revokedBy { reason += " by \(by)" }
            if let detail = record.detail { reason += ": \(detail)" }
            return [
                localTime(record.releasedAt), record.lease, record.holder, record.instruments.joined(separator: ","),
                seconds(record.grantedAt - record.queuedAt), seconds(record.duration), reason,
            ]
        }
        return aligned(["ENDED", "LEASE", "HOLDER", "INSTRUMENTS", "WAITED", "HELD", "REASON"], rows)
    }

    static func table(_ entries: [AuditLogEntry]) -> String {
        aligned(
            ["TIME", "ACTOR", "ACTION", "TARGET", "DETAIL"],
            entries.map { [localTime($0.time), $0.actor, $0.action, $0.target, $0.detail] })
    }

    static func csv(_ records: [AllocationHistoryEntry]) -> String {
        var lines = ["lease,holder,uid,pid,instruments,requirements,queued_at,granted_at,released_at,duration_s,reason,revoked_by,detail"]
        for record in records {
            let requirements = (try? JSONEncoder().encode(record.requirements)).map { String(decoding: $0, as: UTF8.self) } ?? ""
            lines.append([
                record.lease, record.holder, record.uid.map(String.init) ?? "", record.pid.map(String.init) ?? "",
                record.instruments.joined(separator: ";"), requirements, utc(record.queuedAt), utc(record.grantedAt),
                utc(record.releasedAt), String(format: "%.3f", record.duration), record.reason, record.revokedBy ?? "",
                record.detail ?? "",
            ].map(field).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func csv(_ entries: [AuditLogEntry]) -> String {
        var lines = ["time,actor,action,target,detail"]
        for entry in entries {
            lines.append([utc(entry.time), entry.actor, entry.action, entry.target, entry.detail].map(field).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180).
    static func field(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    private static func aligned(_ header: [String], _ rows: [[String]]) -> String {
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        return ([header] + rows).map { cells in
            zip(cells, widths).enumerated().map { index, pair in
                index == cells.count - 1 ? pair.0 : pair.0.padding(toLength: pair.1, withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }

    private static func localTime(_ seconds: Double) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.string(from: Date(timeIntervalSince1970: seconds))
    }

    private static func utc(_ seconds: Double) -> String {
        Date(timeIntervalSince1970: seconds).formatted(.iso8601)
    }

    private static func seconds(_ value: Double) -> String {
        switch value {
        case ..<1: String(format: "%.0f ms", value * 1000)
        case ..<120: String(format: "%.1f s", value)
        case ..<7200: String(format: "%.1f min", value / 60)
        default: String(format: "%.1f h", value / 3600)
        }
    }
}
