import Glibc
import LabvisorCore
import LabvisorHardware
import Testing

/// A non-blocking pipe, closed at the end of the test.
final class NonBlockingPipe: Sendable {
    let readEnd: Int32
    let writeEnd: Int32

    init() {
        var ends: [Int32] = [-1, -1]
        precondition(pipe(&ends) == 0)
        readEnd = ends[0]
        writeEnd = ends[1]
        for end in ends { _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK) }
    }

    func send(_ byte: UInt8) {
        var value = byte
        precondition(Glibc.write(writeEnd, &value, 1) == 1)
    }

    func receive() -> UInt8? {
        var value: UInt8 = 0
        return Glibc.read(readEnd, &value, 1) == 1 ? value : nil
    }
}

@Suite struct IOReactorTests {
    @Test func waitEndsWhenDataArrives() async throws {
        try await withReactor { reactor in
            let pipe = NonBlockingPipe()
            defer { Glibc.close(pipe.readEnd); Glibc.close(pipe.writeEnd) }
            let registration = try reactor.register(pipe.readEnd, name: "pipe")
            defer { registration.deregister(ending: .closed("pipe")) }
            #expect(reactor.isRunning)
            async let received = registration.perform(.readable, deadline: .now + .seconds(5)) { pipe.receive() }
            try await Task.sleep(for: .milliseconds(20))
            pipe.send(42)
            #expect(try await received == 42)
        }
    }

    @Test func waitEndsAtItsDeadline() async throws {
        try await withReactor { reactor in
            let pipe = NonBlockingPipe()
            defer { Glibc.close(pipe.readEnd); Glibc.close(pipe.writeEnd) }
            let registration = try reactor.register(pipe.readEnd, name: "pipe")
            let start = ContinuousClock.now
            let error = await labvisorError {
                try await registration.waitUntil(.readable, deadline: .now + .milliseconds(50))
            }
            #expect(error?.code == .timeout)
            #expect(ContinuousClock.now - start >= .milliseconds(45))
            // Ready at once when data is already there.
            pipe.send(1)
            try await registration.waitUntil(.readable, deadline: .now + .seconds(5))
            registration.deregister(ending: .closed("pipe"))
        }
    }

    @Test func hangUpEndsPendingAndLaterWaitsWithDeviceGone() async throws {
        try await withReactor { reactor in
            let pipe = NonBlockingPipe()
            defer { Glibc.close(pipe.readEnd) }
            let registration = try reactor.register(pipe.readEnd, name: "pipe")
            let waiter = startOnReactor(reactor) {
                try await registration.waitUntil(.readable, deadline: .now + .seconds(10))
            }
            try await Task.sleep(for: .milliseconds(20))
            let start = ContinuousClock.now
            Glibc.close(pipe.writeEnd)
            let (error, ended) = await waiter.value
            let elapsed = ended - start
            #expect(error?.code == .deviceGone)
            #expect(elapsed < .seconds(1))
            let later = await labvisorError { try await registration.waitUntil(.writable, deadline: nil) }
            #expect(later?.code == .deviceGone)
            #expect(reactor.registrationCount == 0)
        }
    }

    @Test func cancellationEndsAWait() async throws {
        try await withReactor { reactor in
            let pipe = NonBlockingPipe()
            defer { Glibc.close(pipe.readEnd); Glibc.close(pipe.writeEnd) }
            let registration = try reactor.register(pipe.readEnd, name: "pipe")
            defer { registration.deregister(ending: .closed("pipe")) }
            let waiter = Task {
                await labvisorError { try await registration.waitUntil(.readable, deadline: .now + .seconds(10)) }
            }
            try await Task.sleep(for: .milliseconds(20))
            waiter.cancel()
            let error = await waiter.value
            #expect(error?.code == .unavailable)
            #expect(error?.fields["cancelled"] == true)
        }
    }

    @Test func tasksCanRunOnTheReactorThread() async throws {
        try await withReactor { reactor in
            let pipe = NonBlockingPipe()
            defer { Glibc.close(pipe.readEnd); Glibc.close(pipe.writeEnd) }
            let registration = try reactor.register(pipe.readEnd, name: "pipe")
            defer { registration.deregister(ending: .closed("pipe")) }
            let received = try await withTaskExecutorPreference(reactor) {
                var received: [UInt8] = []
                for value in UInt8(1)...50 {
                    pipe.send(value)
                    received.append(try await registration.perform(.readable, deadline: .now + .seconds(5)) { pipe.receive() })
                }
                return received
            }
            #expect(received == Array(1...50))
        }
    }

    @Test func shutdownEndsRegistrationsAndTheReactorRestarts() async throws {
        let reactor = IOReactor(name: "test.restart")
        defer { reactor.shutdown() }
        let pipe = NonBlockingPipe()
        defer { Glibc.close(pipe.readEnd); Glibc.close(pipe.writeEnd) }
        let registration = try reactor.register(pipe.readEnd, name: "pipe")
        let waiter = Task {
            await labvisorError { try await registration.waitUntil(.readable, deadline: .now + .seconds(10)) }
        }
        try await Task.sleep(for: .milliseconds(20))
        reactor.shutdown()
        #expect(await waiter.value?.code == .unavailable)
        #expect(!reactor.isRunning)
        reactor.shutdown()

        let again = try reactor.register(pipe.readEnd, name: "pipe")
        #expect(reactor.isRunning)
        pipe.send(7)
        #expect(try await again.perform(.readable, deadline: .now + .seconds(5)) { pipe.receive() } == 7)
    }
}
