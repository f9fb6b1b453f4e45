import DequeModule
import Testing

@testable import LabvisorCore

/// `Deque.array`: the elements in order, and an empty deque copied on many threads at once
/// without touching shared storage (under ThreadSanitizer, `Array(emptyDeque)` on two threads
/// is reported as a data race on the runtime's empty-array storage).
@Suite struct DequeArrayTests {
    @Test func givesTheElementsInOrder() {
        var deque: Deque<Int> = [3, 4]
        deque.prepend(2)
        deque.prepend(1)
        #expect(deque.array == [1, 2, 3, 4])
        #expect(Deque<Int>().array == [])
    }

    @Test func emptyDequesAreCopiedOnManyThreadsAtOnce() async {
        await withTaskGroup(of: Int.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    var total = 0
                    for _ in 0..<2_000 { total += Deque<Int>().array.count }
                    return total
                }
            }
            #expect(await group.reduce(0, +) == 0)
        }
    }
}
