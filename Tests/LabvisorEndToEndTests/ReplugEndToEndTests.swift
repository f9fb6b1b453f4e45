import Foundation
import LabvisorClient
import Testing

/// A simulated instrument unplugged and plugged back in while a client holds it: the real
/// daemon, the real CLI (`labvisor simulate-fault`), the real Swift client.
@Suite("ReplugEndToEndTests", .timeLimit(.minutes(2)))
struct ReplugEndToEndTests {
    let stage = "stage-x"

    @Test func unplugMidMoveGivesDeviceGoneAndReplugReattachesUnderTheSameLease() async throws {
        let daemon = try await DaemonProcess()
        let client = try await daemon.connect()
        let lease = try await client.acquire([stage])
        _ = try await client.invoke(stage, "home", timeout: .seconds(20))
        try await client.set(stage, "velocity", 0.5)
        let events = try await client.watch(kinds: [.propertyChanged, .stateChanged], instruments: [stage])
        let moveTimeout = Duration.seconds(60)
        let move = Task { try await client.invoke(self.stage, "moveAbsolute", ["position": 20], timeout: moveTimeout) }
        // The move is under way once the stage reports a position off home.
        let moving = Task {
            for await event in events where event.kind == .propertyChanged && (event.fields["value"]?.number ?? 0) > 0 {
                return true
            }
            return false
        }
        let watchdog = Task {
            try await Task.sleep(for: .seconds(15))
            moving.cancel()
        }
        #expect(await moving.value, "the stage reported a position during the move")
        watchdog.cancel()

        let pulled = ContinuousClock.now
        let unplug = try await daemon.labvisor(["simulate-fault", stage, "unplug"])
        #expect(unplug.status == 0, "\(unplug.errors)")
        #expect(unplug.output == "\(stage): gone\n")
        let failure = await #expect(throws: LabvisorError.self) { try await move.value }
        let failedAfter = ContinuousClock.now - pulled
        #expect(failure?.code == .deviceGone, "\(failure.map { "\($0)" } ?? "")")
        #expect(failedAfter < .seconds(15), "the move fails at the unplug (\(failedAfter)), not at its \(moveTimeout) deadline")
        #expect(try await client.list().first { $0.name == stage }?.state == "gone")
        let listed = try await daemon.labvisor(["list", "--json"])
        #expect(listed.output.contains("\"state\" : \"gone\""), "\(listed.output)")
        // Later calls fail at once with deviceGone; the CLI says so with exit code 5.
        let later = await #expect(throws: LabvisorError.self) { try await client.invoke(stage, "axisPosition", ["axis": 1]) }
        #expect(later?.code == .deviceGone)
        let cli = try await daemon.labvisor(["call", stage, "axisPosition"])
        #expect(cli.status == 5)
        #expect(cli.errors.hasPrefix("error: deviceGone: instrument \(stage) is gone"), "\(cli.errors)")
        let twice = try await daemon.labvisor(["simulate-fault", stage, "unplug"])
        #expect(twice.status != 0)
        #expect(twice.errors.contains("unplugged already"), "\(twice.errors)")

        let replug = try await daemon.labvisor(["simulate-fault", stage, "replug"])
        #expect(replug.status == 0, "\(replug.errors)")
        #expect(replug.output == "\(stage): ready\n", "this connection still holds the stage: its driver was reopened")
        let summary = try await client.list().first { $0.name == stage }
        #expect(summary?.state == "ready")
        #expect(summary?.lease?.lease == lease.lease, "the lease survived")
        // The device kept its position where the move was cut off.
        let position = try await client.invoke(stage, "axisPosition", ["axis": 1]).number ?? -1
        #expect(position > 0 && position < 20, "\(position)")
        // Control calls work again under the same lease.
        try await client.set(stage, "velocity", 20)
        let reached = try await client.invoke(stage, "moveAbsolute", ["position": 1], timeout: .seconds(20))
        #expect(abs((reached.number ?? -1) - 1) < 0.01)
        try await client.release(lease)
        await client.close()
        #expect(try await daemon.stop() == 0, "\(daemon.logText)")
    }

    @Test func faultsAreOnlyForSimulatedInstruments() async throws {
        let daemon = try await DaemonProcess()
        let unknown = try await daemon.labvisor(["simulate-fault", "no-such-thing", "unplug"])
        #expect(unknown.status == 3)
        #expect(unknown.errors.contains("not a simulated instrument"), "\(unknown.errors)")
        let notUnplugged = try await daemon.labvisor(["simulate-fault", stage, "replug"])
        #expect(notUnplugged.status != 0)
        #expect(notUnplugged.errors.contains("plugged in"), "\(notUnplugged.errors)")
        // Unplugged with nobody using it: replug brings it back, driver closed until first use.
        #expect(try await daemon.labvisor(["simulate-fault", stage, "unplug"]).status == 0)
        let back = try await daemon.labvisor(["simulate-fault", stage, "replug"])
        #expect(back.output == "\(stage): discovered\n", "\(back.errors)")
        let client = try await daemon.connect()
        #expect(try await client.invoke(stage, "axisPosition", ["axis": 1]).number != nil, "the replugged stage answers")
        await client.close()
        #expect(try await daemon.stop() == 0, "\(daemon.logText)")
    }
}
