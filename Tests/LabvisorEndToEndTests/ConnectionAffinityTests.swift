import Foundation
import NIOCore
import NIOPosix
import Testing

@testable import LabvisorClient

/// `Labvisor.withConnectionAffinity(_:)` against the real daemon: calls made inside it run
/// on the connection's event loop and answer as they do outside; errors and child tasks
/// behave as without it; leaving it returns the task to the global executor.
@Suite("ConnectionAffinityTests", .timeLimit(.minutes(2)))
struct ConnectionAffinityTests {
    /// The event loop the calling thread runs, if it is one.
    func currentLoop() -> (any EventLoop)? { MultiThreadedEventLoopGroup.currentEventLoop }

    @Test func callsInsideRunOnTheConnectionsLoopAndAnswerAsOutside() async throws {
        let daemon = try await DaemonProcess(loopback: true)
        let client = try await daemon.connect()
        let loop = client.connection.executor.eventLoop
        #expect(try await client.invoke("loopback", "echo", ["value": 7]) == .int(7))
        #expect(currentLoop() == nil, "a test task runs on the global executor")

        let (answers, onLoop) = try await client.withConnectionAffinity { () async throws -> ([JSONValue], Int) in
            var answers: [JSONValue] = []
            var onLoop = 0
            for value in 0..<200 {
                answers.append(try await client.invoke("loopback", "echo", ["value": .int(value)]))
                if currentLoop() === loop { onLoop += 1 }
            }
            return (answers, onLoop)
        }
        #expect(answers == (0..<200).map { JSONValue.int($0) })
        #expect(onLoop == 200, "every call resumed its caller on the connection's event loop")
        #expect(try await client.invoke("loopback", "echo", ["value": 8]) == .int(8))
        #expect(currentLoop() == nil, "after the scope the task is back on the global executor")

        await client.close()
        #expect(try await daemon.stop() == 0, "\(daemon.logText)")
    }

    @Test func errorsPropagateAndChildTasksShareTheLoop() async throws {
        let daemon = try await DaemonProcess(loopback: true)
        let client = try await daemon.connect()
        let loop = client.connection.executor.eventLoop

        let failure = await client.withConnectionAffinity { () async -> LabvisorError? in
            do {
                try await client.invoke("no-such-instrument", "echo", ["value": 1])
                return nil
            } catch {
                return error as? LabvisorError
            }
        }
        #expect(failure?.code == .notFound, "\(String(describing: failure))")

        let children = try await client.withConnectionAffinity {
            try await withThrowingTaskGroup(of: (Int, JSONValue, Bool).self) { group in
                for value in 0..<16 {
                    group.addTask {
                        let answer = try await client.invoke("loopback", "echo", ["value": .int(value)])
                        return (value, answer, MultiThreadedEventLoopGroup.currentEventLoop === loop)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        #expect(children.count == 16)
        #expect(children.allSatisfy { $0.1 == .int($0.0) })
        #expect(children.allSatisfy { $0.2 }, "child tasks inherit the preference")

        await client.close()
        #expect(try await daemon.stop() == 0, "\(daemon.logText)")
    }
}
