import LabvisorCore
import Testing

@Suite struct LifecycleTests {
    /// The table as the design reads; the test walks every (from, to) pair against it.
    static let expected: Set<String> = [
        "discovered>opening", "discovered>gone",
        "opening>ready", "opening>faulted", "opening>closing", "opening>gone",
        "ready>busy", "ready>closing", "ready>faulted", "ready>gone",
        "busy>ready", "busy>closing", "busy>faulted", "busy>gone",
        "closing>discovered", "closing>faulted", "closing>gone",
        "faulted>opening", "faulted>closing", "faulted>discovered", "faulted>gone",
        "gone>discovered",
    ]

    @Test(arguments: LifecycleState.allCases)
    func everyPairFromStateFollowsTheTable(from: LifecycleState) throws {
        for to in LifecycleState.allCases {
            let events = EventRecorder()
            let lifecycle = InstrumentLifecycle(instrument: "stage-x", initial: from, events: events)
            let legal = Self.expected.contains("\(from)>\(to)")
            #expect(LifecycleTransitions.isAllowed(from: from, to: to) == legal)
            if legal {
                let transition = try lifecycle.transition(to: to, reason: "test")
                #expect(transition.from == from && transition.to == to)
                #expect(lifecycle.state == to)
                let event = try #require(events.all.first)
                #expect(event.kind == .stateChanged && event.instrument == "stage-x")
                #expect(event.fields["from"] == .string(from.rawValue))
                #expect(event.fields["to"] == .string(to.rawValue))
                #expect(event.fields["reason"] == "test")
            } else {
                let error = #expect(throws: LabvisorError.self) { try lifecycle.transition(to: to, reason: "test") }
                #expect(error?.message.contains("from \(from) to \(to)") == true)
                #expect(error?.fields["from"] == .string(from.rawValue))
                #expect(error?.fields["to"] == .string(to.rawValue))
                #expect(lifecycle.state == from)
                #expect(events.all.isEmpty)
            }
        }
    }

    @Test func compareAndSetLetsOnlyOneRacerWin() async {
        let lifecycle = InstrumentLifecycle(instrument: "laser")
        let wins = Locked(0)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<100 {
                group.addTask {
                    if (try? lifecycle.transition(from: .discovered, to: .opening, reason: "open")) != nil {
                        wins.withLock { $0 += 1 }
                    }
                }
            }
        }
        #expect(wins.current == 1)
        #expect(lifecycle.state == .opening)
    }

    @Test func aDeviceLifeWithUnplugAndReattach() throws {
        let events = EventRecorder()
        let lifecycle = InstrumentLifecycle(instrument: "stage-x", events: events)
        for (state, reason) in [
            (LifecycleState.opening, "first open"), (.ready, "identified"), (.busy, "move"), (.gone, "unplugged"),
            (.discovered, "re-attached"), (.opening, "reopen for live sessions"), (.ready, "identified"),
        ] {
            try lifecycle.transition(to: state, reason: reason)
        }
        #expect(events.of(.stateChanged).map { $0.fields["reason"] } == [
            "first open", "identified", "move", "unplugged", "re-attached", "reopen for live sessions", "identified",
        ])
    }
}
