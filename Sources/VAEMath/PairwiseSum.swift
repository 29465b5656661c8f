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
    public func add(_ buffer: UnsafePointer<Float>) {
        if levels.last == 0 {
            // The leaf completes a pair at once: added straight into its left neighbour, not copied first.
            accumulate(buffer, into: stack[levels.count - 1])
            levels[levels.count - 1] = 1
        } else {
            if stack.count == levels.count { stack.append(.allocate(capacity: count)) }
            stack[levels.count].update(from: buffer, count: count)
            levels.append(0)
        }
        // Merge while the two newest partial sums cover subtrees of the same height: (left + right).
        while levels.count >= 2 && levels[levels.count - 1] == levels[levels.count - 2] { mergeNewestPair() }
    }

    /// Writes into `result`, over `range` only, the sum of every leaf added so far and `lastLeaf`; `lastLeaf` may
    /// be `result`. Leaves the sum's state alone, so each range of a buffer can be finished when it is ready,
    /// with the same bits as finishing the whole. With a power-of-two number of leaves the bracketing is the
    /// complete binary tree.
    public func finish(_ range: Range<Int>, lastLeaf: UnsafePointer<Float>, into result: UnsafeMutablePointer<Float>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "range \(range) outside 0..<\(count)")
        guard !levels.isEmpty else {
            if UnsafePointer(result) != lastLeaf { (result + range.lowerBound).update(from: lastLeaf + range.lowerBound, count: range.count) }
            return
        }
        // Pushed on top, the last leaf merges with every partial sum below it, newest first:
        // s0 + (s1 + (… + (sk + leaf))). The inner sums go to a free slot, the outermost straight to `result`.
        if stack.count == levels.count { stack.append(.allocate(capacity: count)) }
        let scratch = stack[levels.count]
        var right = lastLeaf
        for k in stride(from: levels.count - 1, through: 0, by: -1) {
            let left = stack[k], into = k == 0 ? result : scratch
            for i in range { into[i] = left[i] + right[i] }
            right = UnsafePointer(into)
        }
    }

    /// Forgets the leaves: the next `add` starts a new sum.
    public func reset() { levels.removeAll(keepingCapacity: true) }

    private func mergeNewestPair() {
        accumulate(stack[levels.count - 1], into: stack[levels.count - 2])
        levels.removeLast()
        levels[levels.count - 1] += 1
    }

    /// left += right over the whole buffer: a right subtree's sum added into its left neighbour.
    private func accumulate(_ right: UnsafePointer<Float>, into left: UnsafeMutablePointer<Float>) {
        for i in 0..<count { left[i] += right[i] }
    }
}
