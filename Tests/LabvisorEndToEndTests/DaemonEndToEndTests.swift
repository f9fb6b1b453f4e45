import Foundation
import LabvisorClient
import Testing

/// The real daemon process, driven by the real Swift client.
@Suite("DaemonEndToEndTests", .timeLimit(.minutes(2)))
struct DaemonEndToEndTests {
    let heater = "heater-1"

    @Test func listDescribeGetCallSet() async throws {
        let daemon = try await DaemonProcess()
        let client = try await daemon.connect()
        let instruments = try await client.list()
        #expect(instruments.map(\.name).contains(heater))
        let stages = try await client.list(where: ["kind": "sensor", "tags.room": "demo"])
        #expect(stages.map(\.name) == [heater])
        let description = try await client.describe(heater)
        #expect(try description.interface.method("rampTo").arguments.first?.name == "celsius")

        let reached = try await client.withLease([heater]) { _ in
            try await client.set(heater, "setpoint", 28)
            return try await client.invoke(heater, "rampTo", ["celsius": 30], timeout: .seconds(20))
        }
        #expect(abs((reached.number ?? 0) - 30) <= 0.5)
        #expect(try await client.get(heater, "setpoint").number == 30, "JSON carries 30.0 as 30: compare numbers")
        #expect(try await client.describe(heater).identification?["model"] == "TC-1")
        await client.close()
        #expect(try await daemon.stop() == 0, "\(daemon.logText)")
    }

    @Test func controlNeedsTheLeaseAndArgumentsAreCheckedFirst() async throws {
        let daemon = try await DaemonProcess()
        let client = try await daemon.connect()
        let noLease = await #expect(throws: LabvisorError.self) { try await client.invoke(heater, "heatOn") }
        #expect(noLease?.code == .leaseRequired)
        let reading = try await client.get(heater, "heating")
        #expect(reading == false, "observers read without a lease")
        let lease = try await client.acquire([heater])
        let bad = await #expect(throws: LabvisorError.self) { try await client.invoke(heater, "rampTo", ["celsius": 500]) }
        #expect(bad?.code == .invalidArgument)
        #expect(bad?.fields["argument"] == "celsius")
        let unknown = await #expect(throws: LabvisorError.self) { try await client.invoke(heater, "selfDestruct") }
        #expect(unknown?.code == .unknownMethod)
        try await client.release(lease)
        await client.close()
        #expect(try await daemon.stop() == 0, "\(daemon.logText)")
    }

    @Test func secondClientIsToldWhoHoldsTheLease() async throws {
        let daemon = try await DaemonProcess()
        let first = try await daemon.connect()
        let second = try await daemon.connect()
        _ = try await first.acquire([heater])
        let locked = await #expect(throws: LabvisorError.self) { try await second.acquire([heater]) }
        #expect(locked?.code == .locked)
        #expect(locked?.message.contains("pid \(getpid())") == true, "names the holder: \(locked?.message ?? "")")
        // FIFO wait: the first connection closing hands the lease to the waiting second one.
        let waiting = Task { try await second.acquire([self.heater], timeout: .seconds(10)) }
        try await Task.sleep(for: .milliseconds(100))
        await first.close()
        let granted = try await waiting.value
        #expect(granted.instruments == [heater])
        await second.close()
        #expect(try await daemon.stop() == 0, "\(daemon.logText)")
    }

    @Test func revokedHolderLearnsItOnItsNextCall() async throws {
        let daemon = try await DaemonProcess()
        let holder = try await daemon.connect()
        let admin = try await daemon.connect()
        let lease = try await holder.acquire([heater])
        let listed = try await admin.leases()
        #expect(listed.map(\.lease) == [lease.lease])
        #expect(listed.first?.instruments == [heater])
        try await admin.revoke(lease.lease, reason: "needed for calibration")
        let revoked = await #expect(throws: LabvisorError.self) { try await holder.invoke(heater, "heatOn") }
        #expect(revoked?.code == .leaseRevoked)
        #expect(revoked?.message.contains("needed for calibration") == true, "\(revoked?.message ?? "")")
        let taken = try await admin.acquire([heater])
        #expect(taken.instruments == [heater], "a revoked lease frees its instruments at once")
        await holder.close()
        await admin.close()
        #expect(try await daemon.stop() == 0, "\(daemon.logText)")
    }

    @Test func killedHolderFreesItsLeaseFast() async throws {
        let daemon = try await DaemonProcess()
        let (holder, line) = try daemon.startPythonHolder(of: heater)
        defer { if holder.isRunning { kill(holder.processIdentifier, SIGKILL) } }
        #expect(line.contains("\"lease\""), "the python holder got the lease: \(line)")

        let client = try await daemon.connect()
        let probeStart = ContinuousClock.now
        let locked = await #expect(throws: LabvisorError.self) { try await client.acquire([heater]) }
        // One refused acquire measures this machine's round trip now (slow under TSan or load):
        // the bound is 100 ms, or 10 round trips where one takes longer than 10 ms.
        let bound = max(.milliseconds(100), (ContinuousClock.now - probeStart) * 10)
        #expect(locked?.code == .locked)
        kill(holder.processIdentifier, SIGKILL)
        let killed = ContinuousClock.now
        var freedAfter: Duration?
        while freedAfter == nil, ContinuousClock.now - killed < .seconds(2) {
            if let lease = try? await client.acquire([heater]) {
                freedAfter = ContinuousClock.now - killed
                try await client.release(lease)
            } else {
                try await Task.sleep(for: .milliseconds(2))
            }
        }
        #expect(freedAfter != nil)
        #expect(freedAfter.map { $0 < bound } == true, "bound \(bound), freed after \(freedAfter.map { "\($0)" } ?? "never")")
        await client.close()
        #expect(try await daemon.stop() == 0, "\(daemon.logText)")
    }

    @Test func garbageFromOneClientDoesNotDisturbAnother() async throws {
        let daemon = try await DaemonProcess()
        let client = try await daemon.connect()
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in daemon.socketPath.utf8.enumerated() { raw[index] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(connected == 0)
        // Not JSON, then a frame announcing 2 GiB.
        let garbage: [UInt8] = [0, 0, 0, 5, 0x68, 0x65, 0x6C, 0x6C, 0x6F, 0x7F, 0xFF, 0xFF, 0xFF]
        _ = garbage.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let status = try await client.status()
        #expect(status.instruments >= 1)
        close(fd)
        await client.close()
        #expect(try await daemon.stop() == 0, "\(daemon.logText)")
    }
}

/// The `labvisor` CLI against the real daemon.
@Suite("CommandLineEndToEndTests", .timeLimit(.minutes(2)))
struct CommandLineEndToEndTests {
    let heater = "heater-1"

    /// Runs `labvisor ARGS` with `LABVISOR_URL` pointing at `daemon`; returns status, stdout, stderr.
    func labvisor(_ arguments: [String], daemon: DaemonProcess) async throws -> (status: Int32, output: String, errors: String) {
        try await daemon.labvisor(arguments)
    }

    @Test func commandsAndExitCodes() async throws {
        let daemon = try await DaemonProcess()
        let list = try await labvisor(["list", "--json"], daemon: daemon)
        #expect(list.status == 0)
        #expect(list.output.contains("\"name\" : \"\(heater)\""))
        let get = try await labvisor(["get", heater, "heating"], daemon: daemon)
        #expect(get == (0, "false\n", ""))
        let set = try await labvisor(["set", heater, "setpoint", "33"], daemon: daemon)
        #expect(set.status == 0)
        #expect(try await labvisor(["get", heater, "setpoint"], daemon: daemon).output == "33\n")
        let bad = try await labvisor(["call", heater, "rampTo", "celsius=999"], daemon: daemon)
        #expect(bad.status == 5)
        #expect(bad.errors.hasPrefix("error: invalidArgument: invalid argument 'celsius'"))
        let missing = try await labvisor(["describe", "no-such-thing"], daemon: daemon)
        #expect(missing.status == 3)
        #expect(missing.errors.hasPrefix("error: notFound:"))
        #expect(try await daemon.stop() == 0, "\(daemon.logText)")
    }

    @Test func lockRunsTheCommandUnderTheLease() async throws {
        let daemon = try await DaemonProcess()
        // This connection uses the heater first, so its driver session stays open after the
        // command's own connection ends (else the 2 s linger may shut it down, heater off,
        // before the check below on a slow run).
        let client = try await daemon.connect()
        #expect(try await client.get(heater, "heating") == false)
        let script = #"""
            "$LABVISOR_CLI" call heater-1 heatOn || exit 9
            echo "instruments=$LABVISOR_INSTRUMENTS"
            exit 7
            """#
        let lock = try await labvisor(["lock", heater, "--", "sh", "-c", script], daemon: daemon)
        #expect(lock.status == 7, "lock exits with the command's status: \(lock.errors)")
        #expect(lock.output.contains("instruments=\(heater)"))
        // The command's call ran under the lease: the heater is on; and the lease is gone now.
        #expect(try await client.get(heater, "heating") == true)
        let lease = try await client.acquire([heater])
        try await client.release(lease)
        let held = try await labvisor(["lock", heater, "--", "sh", "-c", "\"$LABVISOR_CLI\" lock heater-1 -- true"], daemon: daemon)
        #expect(held.status == 4, "a nested lock by another connection finds it locked")
        #expect(held.errors.contains("error: locked:"))
        await client.close()
        #expect(try await daemon.stop() == 0, "\(daemon.logText)")
    }
}

/// Events over the wire.
@Suite("EventEndToEndTests", .timeLimit(.minutes(2)))
struct EventEndToEndTests {
    let heater = "heater-1"

    @Test func onewayFailureArrivesAsAnEvent() async throws {
        let daemon = try await DaemonProcess()
        let client = try await daemon.connect()
        let events = try await client.watch(kinds: [.callFailed, .callCompleted, .leaseAcquired], instruments: [heater])
        let lease = try await client.acquire([heater])
        let call = try await client.invokeOneway(heater, "rampTo", ["celsius": 140], timeout: .milliseconds(300), leaseToken: lease.token)
        var seen: [Event] = []
        let collector = Task {
            var collected: [Event] = []
            for await event in events {
                collected.append(event)
                if event.kind == .callFailed || event.kind == .callCompleted { break }
            }
            return collected
        }
        let timer = Task {
            try await Task.sleep(for: .seconds(10))
            collector.cancel()
        }
        seen = await collector.value
        timer.cancel()
        #expect(seen.first?.kind == .leaseAcquired)
        let outcome = seen.last
        #expect(outcome?.kind == .callFailed)
        #expect(outcome?.fields["call"] == .int(call))
        #expect(outcome?.fields["error"]?["code"] == "deadlineExceeded")
        await client.close()
        #expect(try await daemon.stop() == 0, "\(daemon.logText)")
    }
}
