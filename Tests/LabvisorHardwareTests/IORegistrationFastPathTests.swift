import Glibc
import LabvisorCore
import LabvisorHardware
import Testing

/// The round-trip savings of `IORegistration`: no read attempt while the descriptor is known
/// empty, and one deadline timer per registration shared by its waits.
@Suite struct IORegistrationFastPathTests {
    /// A non-blocking pipe whose reads count their attempts.
    /// `NonBlockingPipe` (IOReactorTests) that counts its read attempts.
    private final class CountingPipe: Sendable {
        private let ends = NonBlockingPipe()
        private let counts = LockedState((attempts: 0, empty: 0))
        var readEnd: Int32 { ends.readEnd }
        var writeEnd: Int32 { ends.writeEnd }

        func send(_ bytes: [UInt8]) {
            precondition(bytes.withUnsafeBytes { Glibc.write(writeEnd, $0.baseAddress, $0.count) } == bytes.count)
        }

        /// Reads up to 64 bytes; `nil` for "would block".
        func receive() -> [UInt8]? {
            var buffer = [UInt8](repeating: 0, count: 64)
            let count = Glibc.read(readEnd, &buffer, buffer.count)
            counts.withLock {
                $0.attempts += 1
                if count <= 0 { $0.empty += 1 }
            }
            return count > 0 ? Array(buffer[..<count]) : nil
        }

        /// Read attempts so far, and how many of them found nothing.
        var attempts: (all: Int, empty: Int) { counts.withLock { ($0.attempts, $0.empty) } }

        func close() {
            Glibc.close(readEnd)
            Glibc.close(writeEnd)
        }
    }

    @Test func aReadThatEmptiedTheDescriptorWaitsForInputBeforeTryingAgain() async throws {
        try await withReactor { reactor in
            let pipe = CountingPipe()
            defer { pipe.close() }
            let registration = try reactor.register(pipe.readEnd, name: "pipe")
            defer { registration.deregister(ending: .closed("pipe")) }
            func read() async throws -> [UInt8] {
                try await registration.perform(.readable, deadline: .now + .seconds(5), drained: { $0.count < 64 }) {
                    pipe.receive()
                }
            }
            // Empty at first: one attempt finds nothing, then the byte comes.
            async let first = read()
            try await Task.sleep(for: .milliseconds(20))
            pipe.send([1])
            #expect(try await first == [1])
            #expect(pipe.attempts.all == 2)
            #expect(pipe.attempts.empty == 1)
            // That read emptied the pipe: the next one waits without trying.
            async let second = read()
            try await Task.sleep(for: .milliseconds(20))
            #expect(pipe.attempts.all == 2)
            pipe.send([2, 3])
            #expect(try await second == [2, 3])
            #expect(pipe.attempts.all == 3)
            #expect(pipe.attempts.empty == 1)
        }
    }

    @Test func bytesThatArriveRightAfterAnEmptyingReadAreNotMissed() async throws {
        try await withReactor { reactor in
            let pipe = CountingPipe()
            defer { pipe.close() }
            let registration = try reactor.register(pipe.readEnd, name: "pipe")
            defer { registration.deregister(ending: .closed("pipe")) }
            let count = 2_000
            // A writer on a thread of its own, racing the reads: bursts of 1-3 bytes, with
            // and without short pauses.
            async let writing: Void = DedicatedThread.run {
                var value = 0
                while value < count {
                    let burst = min(1 + value % 3, count - value)
                    pipe.send((value..<value + burst).map { UInt8(truncatingIfNeeded: $0) })
                    value += burst
                    if value % 7 == 0 { usleep(UInt32(value % 50)) }
                }
            }
            let received = try await withTaskExecutorPreference(reactor) {
                var received: [UInt8] = []
                while received.count < count {
                    received += try await registration.perform(
                        .readable, deadline: .now + .seconds(10), drained: { $0.count < 64 }
                    ) { pipe.receive() }
                }
                return received
            }
            try await writing
            #expect(received == (0..<count).map { UInt8(truncatingIfNeeded: $0) })
        }
    }

    @Test func anEarlierDeadlineReplacesTheArmedTimer() async throws {
        try await withReactor { reactor in
            let pipe = CountingPipe()
            defer { pipe.close() }
            let registration = try reactor.register(pipe.readEnd, name: "pipe")
            defer { registration.deregister(ending: .closed("pipe")) }
            // The first wait arms the timer at 10 s; the second's 50 ms must not wait for it.
            let long = startOnReactor(reactor) {
                _ = try await registration.perform(.readable, deadline: .now + .seconds(10)) { pipe.receive() }
            }
            try await Task.sleep(for: .milliseconds(20))
            let start = ContinuousClock.now
            let short = await labvisorError {
                try await registration.waitUntil(.readable, deadline: .now + .milliseconds(50))
            }
            let elapsed = ContinuousClock.now - start
            #expect(short?.code == .timeout)
            #expect(short?.fields["waitingFor"] == "readable")
            #expect(elapsed >= .milliseconds(45))
            // Bounded loosely: the point is that it does not wait for the 10 s entry, and the
            // whole suite in parallel on a loaded machine stalls timers for seconds.
            #expect(elapsed < .seconds(9))
            // The long wait still waits, and gets its data.
            pipe.send([9])
            let (error, _) = await long.value
            #expect(error == nil)
        }
    }

    @Test func aLaterDeadlineSharesTheTimerAndStillExpiresOnTime() async throws {
        try await withReactor { reactor in
            let pipe = CountingPipe()
            defer { pipe.close() }
            let registration = try reactor.register(pipe.readEnd, name: "pipe")
            defer { registration.deregister(ending: .closed("pipe")) }
            let start = ContinuousClock.now
            // The first arms the timer at 50 ms; the second (150 ms) arms nothing and is
            // expired when the timer, fired for the first, is armed again for it.
            let first = startOnReactor(reactor) {
                try await registration.waitUntil(.readable, deadline: start + .milliseconds(50))
            }
            let second = startOnReactor(reactor) {
                try await registration.waitUntil(.readable, deadline: start + .milliseconds(150))
            }
            let (firstError, firstEnded) = await first.value
            let (secondError, secondEnded) = await second.value
            #expect(firstError?.code == .timeout)
            #expect(secondError?.code == .timeout)
            #expect(firstEnded - start >= .milliseconds(50))
            #expect(secondEnded - start >= .milliseconds(150))
            #expect(secondEnded - start < .seconds(30))
            // Waits after that still expire (the timer is armed again by the next wait).
            let third = await labvisorError {
                try await registration.waitUntil(.readable, deadline: .now + .milliseconds(30))
            }
            #expect(third?.code == .timeout)
        }
    }
}
