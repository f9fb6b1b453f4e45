import Foundation
import LabvisorClient
import LabvisorServer
import Testing

/// The state store in the real daemon (`--state-dir`), read back through the real CLI.
@Suite("StoreEndToEndTests", .timeLimit(.minutes(3)))
struct StoreEndToEndTests {
    let cli = CommandLineEndToEndTests()

    /// A temporary state directory, removed by the caller.
    static func stateDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("labvisor-state-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Polls `labvisor history --json` until `count` records are committed (bounded).
    func history(_ daemon: DaemonProcess, count: Int, extra: [String] = []) async throws -> [AllocationHistoryEntry] {
        let deadline = ContinuousClock.now + .seconds(20)
        while true {
            let result = try await cli.labvisor(["history", "--json", "--limit", "1000"] + extra, daemon: daemon)
            #expect(result.status == 0, "\(result.errors)")
            let records = try JSONDecoder().decode([AllocationHistoryEntry].self, from: Data(result.output.utf8))
            if records.count >= count || ContinuousClock.now > deadline { return records }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    @Test func historyShowsEachLeaseWithItsReleaseReason() async throws {
        let state = try Self.stateDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let daemon = try await DaemonProcess(stateDirectory: state)

        // Released by its holder.
        let alice = try await daemon.connect()
        let released = try await alice.acquire(["heater-1"])
        try await alice.release(released)

        // Held by a process that is killed: released as clientDisconnected.
        let (holder, line) = try daemon.startPythonHolder(of: "stage-x")
        defer { if holder.isRunning { kill(holder.processIdentifier, SIGKILL) } }
        #expect(line.contains("\"lease\""), "the python holder got the lease: \(line)")
        kill(holder.processIdentifier, SIGKILL)

        // Revoked by an administrator through the CLI.
        let bob = try await daemon.connect()
        let revoked = try await bob.acquire(["laser-488"])
        let revoke = try await cli.labvisor(["revoke", revoked.lease, "--reason", "needed for calibration"], daemon: daemon)
        #expect(revoke.status == 0, "\(revoke.errors)")

        let records = try await history(daemon, count: 3)
        #expect(records.count == 3)
        let byInstrument = Dictionary(uniqueKeysWithValues: records.map { ($0.instruments.joined(separator: ","), $0) })
        #expect(byInstrument["heater-1"]?.reason == "released")
        #expect(byInstrument["heater-1"]?.lease == released.lease)
        #expect(byInstrument["heater-1"]?.pid == getpid())
        #expect(byInstrument["heater-1"]?.holder == "uid \(getuid()) pid \(getpid())")
        #expect(byInstrument["stage-x"]?.reason == "clientDisconnected")
        #expect(byInstrument["stage-x"]?.pid == holder.processIdentifier)
        let revocation = try #require(byInstrument["laser-488"])
        #expect(revocation.reason == "revoked")
        #expect(revocation.detail == "needed for calibration")
        #expect(revocation.revokedBy?.hasPrefix("uid \(getuid()) pid ") == true, "\(revocation.revokedBy ?? "nil")")
        #expect(revocation.requirements == ["names": ["laser-488"]])

        // Filters, the table, CSV and the audit log.
        let heater = try await cli.labvisor(["history", "--json", "--instrument", "heater-1"], daemon: daemon)
        #expect(try JSONDecoder().decode([AllocationHistoryEntry].self, from: Data(heater.output.utf8)).map(\.lease) == [released.lease])
        let recent = try await history(daemon, count: 3, extra: ["--since", "1h"])
        #expect(recent.count == 3)
        let future = try await cli.labvisor(["history", "--json", "--since", "2999-01-01T00:00:00Z"], daemon: daemon)
        #expect(future.output.trimmingCharacters(in: .whitespacesAndNewlines) == "[\n\n]" || future.output.contains("[]"), "\(future.output)")
        let table = try await cli.labvisor(["history"], daemon: daemon)
        #expect(table.status == 0)
        #expect(table.output.hasPrefix("ENDED"))
        #expect(table.output.contains("revoked by uid \(getuid())"))
        #expect(table.output.contains("clientDisconnected"))
        let csv = try await cli.labvisor(["history", "--csv"], daemon: daemon)
        let csvLines = csv.output.split(separator: "\n")
        #expect(csvLines.first?.hasPrefix("lease,holder,uid,pid,instruments,requirements,") == true)
        #expect(csvLines.count == 4)
        let audit = try await cli.labvisor(["history", "--audit", "--json"], daemon: daemon)
        let entries = try JSONDecoder().decode([AuditLogEntry].self, from: Data(audit.output.utf8))
        #expect(entries.map(\.action) == ["revoke"])
        #expect(entries.first?.target == revoked.lease)
        #expect(entries.first?.detail == "needed for calibration")
        let both = try await cli.labvisor(["history", "--json", "--csv"], daemon: daemon)
        #expect(both.status != 0)

        await alice.close()
        await bob.close()
        #expect(try await daemon.stop() == 0, "\(daemon.logText)")
    }

    /// `[daemon] history_days` reaches the daemon's store: what is older goes at start.
    @Test func historyDaysRemovesOlderRecordsAtStart() async throws {
        let configuration = try AccessEndToEndTests.configuration(daemon: "history_days = 7")
        defer { try? FileManager.default.removeItem(atPath: configuration.folder) }
        let now = Date().timeIntervalSince1970
        let store = try StateStore(directory: configuration.folder)
        try await store.write([
            .audit(AuditLogEntry(time: now - 8 * 86_400, actor: "test", action: "revoke", target: "L-old", detail: "")),
            .audit(AuditLogEntry(time: now - 6 * 86_400, actor: "test", action: "revoke", target: "L-kept", detail: "")),
        ])
        store.close()

        let daemon = try await AccessEndToEndTests.daemon(configuration)
        let entries = try await AccessEndToEndTests.audit(daemon) { !$0.contains { $0.target == "L-old" } }
        #expect(entries.map(\.target) == ["L-kept"], "\(daemon.logText)")
        #expect(daemon.logText.contains("removed 0 allocation records and 1 audit entries"), "\(daemon.logText)")
        #expect(try await daemon.stop() == 0, "\(daemon.logText)")
    }

    /// After the store has written batches, no thread of the daemon is below normal priority
    /// (`SCHED_OTHER`, the main thread's nice value or better): threads the Swift pool starts from a lowered writer thread
    /// would inherit its priority and starve the tasks they run on a busy machine.
    @Test func noThreadOfTheDaemonRunsBelowNormalPriority() async throws {
        let state = try Self.stateDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let daemon = try await DaemonProcess(stateDirectory: state)
        let client = try await daemon.connect()
        for _ in 0..<5 {
            try await client.release(try await client.acquire(["heater-1"]))
            try await Task.sleep(for: .milliseconds(60))  // one batch each (the gather window is 50 ms)
        }
        #expect(try await history(daemon, count: 5).count == 5)

        let (main, threads) = try Self.scheduling(of: daemon.pid)
        #expect(threads.count > 3, "\(threads)")
        // Dispatch raises some of its threads (a lower nice, when allowed); none may be lowered.
        let lowered = threads.filter { $0.policy != 0 || $0.nice > main.nice }
        #expect(lowered.isEmpty, "threads below the main thread's SCHED_OTHER nice \(main.nice): \(lowered)")
        await client.close()
        #expect(try await daemon.stop() == 0, "\(daemon.logText)")
    }

    /// Each thread of process `pid`: its name, scheduling policy and nice value, from
    /// `/proc/PID/task/TID/stat` (fields 19 and 41), and the main thread's.
    static func scheduling(of pid: Int32) throws -> (main: (name: String, policy: Int, nice: Int), threads: [(name: String, policy: Int, nice: Int)]) {
        func read(_ path: String) throws -> (name: String, policy: Int, nice: Int) {
            let stat = try String(contentsOfFile: path, encoding: .utf8)
            // The name (field 2) is in parentheses and may hold spaces: count from after it.
            let open = try #require(stat.firstIndex(of: "(")), close = try #require(stat.lastIndex(of: ")"))
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return (String(stat[stat.index(after: open)..<close]), try #require(Int(fields[38])), try #require(Int(fields[16])))
        }
        let tasks = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")
        return (try read("/proc/\(pid)/stat"), tasks.compactMap { try? read("/proc/\(pid)/task/\($0)/stat") })
    }

    @Test func committedRecordsSurviveKillDashNine() async throws {
        let state = try Self.stateDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let first = try await DaemonProcess(stateDirectory: state)
        let client = try await first.connect()
        var leases: [String] = []
        for index in 0..<30 {
            let lease = try await client.acquire([index % 2 == 0 ? "heater-1" : "stage-x"])
            try await client.release(lease)
            leases.append(lease.lease)
        }
        let committed = try await history(first, count: leases.count)
        #expect(Set(committed.map(\.lease)) == Set(leases), "history shows what the store committed")
        await client.close()
        let status = try await first.stop(signal: SIGKILL)
        #expect(status == SIGKILL, "killed, not exited")

        let second = try await DaemonProcess(stateDirectory: state)
        let reader = try await second.connect()
        let after = try await reader.history(limit: 1000)
        #expect(after.persistent)
        #expect(after.records.map(\.lease).sorted() == leases.sorted())
        #expect(after.records.allSatisfy { $0.reason == "released" })
        #expect(try await reader.history(instrument: "heater-1", limit: 1000).records.count == 15)
        await reader.close()
        #expect(try await second.stop() == 0)
    }
}
