// PairwiseSum: adds equal-length Float buffers in a balanced binary tree, in the order they arrive.
//
// Float addition is not associative, so a sum's bits depend on its bracketing. Summing the gradients of
// fixed micro-batches as a complete binary tree, where each rank holds a whole subtree and the ranks
// combine subtrees the same way (the allreduce follows this tree), gives bit-identical sums at every
// power-of-two rank count, and at any other when each rank holds a power-of-two number of leaves: the run
// does not depend on how many ranks computed it.

public final class PairwiseSum {
    public let count: Int
    private var levels: [Int] = []
    private var stack: [UnsafeMutablePointer<Float>] = []

    public init(count: Int) { self.count = count }

    deinit { stack.forEach { $0.deallocate() } }

    /// Adds `buffer` as the next leaf.
    public func add(_ buffer: UnsafePointer<Float>) { push(buffer, 0..<count, &levels) }

    /// Writes into `result`, over `range` only, the sum of every leaf added so far and `lastLeaf`; `lastLeaf` may
    /// be `result`. Leaves the sum's state alone, so each range of a buffer can be finished when it is ready,
    /// with the same bits as finishing the whole. With a power-of-two number of leaves the bracketing is the
    /// complete binary tree.
    public func finish(_ range: Range<Int>, lastLeaf: UnsafePointer<Float>, into result: UnsafeMutablePointer<Float>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "range \(range) outside 0..<\(count)")
        var finalLevels = levels
        push(lastLeaf, range, &finalLevels)
        while finalLevels.count >= 2 { merge(range, &finalLevels) }
        (result + range.lowerBound).update(from: stack[0] + range.lowerBound, count: range.count)
    }

    /// Forgets the leaves: the next `add` starts a new sum.
    public func reset() { levels.removeAll(keepingCapacity: true) }

    private func push(_ leaf: UnsafePointer<Float>, _ range: Range<Int>, _ levels: inout [Int]) {
        if stack.count == levels.count { stack.append(.allocate(capacity: count)) }
        (stack[levels.count] + range.lowerBound).update(from: leaf + range.lowerBound, count: range.count)
        levels.append(0)
        // Merge while the two newest partial sums cover subtrees of the same height: (left + right).
        while levels.count >= 2 && levels[levels.count - 1] == levels[levels.count - 2] { merge(range, &levels) }
    }

    private func merge(_ range: Range<Int>, _ levels: inout [Int]) {
        let right = stack[levels.count - 1], left = stack[levels.count - 2]
        for i in range { left[i] += right[i] }
        levels.removeLast()
        levels[levels.count - 1] += 1
    }
}
