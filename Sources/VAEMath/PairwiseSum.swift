// PairwiseSum: adds equal-length Float buffers in a balanced binary tree, in the order they arrive.
//
// Float addition is not associative, so a sum's bits depend on its bracketing. Summing the gradients of
// fixed micro-batches as a complete binary tree, where each rank holds a whole subtree and the ranks
// combine subtrees the same way (recursive doubling), gives bit-identical sums at every power-of-two
// rank count: the run does not depend on how many ranks computed it.

public final class PairwiseSum {
    public let count: Int
    private var levels: [Int] = []
    private var stack: [UnsafeMutablePointer<Float>] = []

    public init(count: Int) { self.count = count }

    deinit { stack.forEach { $0.deallocate() } }

    /// Adds `buffer` as the next leaf.
    public func add(_ buffer: UnsafePointer<Float>) {
        if stack.count == levels.count { stack.append(.allocate(capacity: count)) }
        stack[levels.count].update(from: buffer, count: count)
        levels.append(0)
        // Merge while the two newest partial sums cover subtrees of the same height: (left + right).
        while levels.count >= 2 && levels[levels.count - 1] == levels[levels.count - 2] {
            let right = stack[levels.count - 1], left = stack[levels.count - 2]
            for i in 0..<count { left[i] += right[i] }
            levels.removeLast()
            levels[levels.count - 1] += 1
        }
    }

    /// Writes the sum of every leaf added so far into `result` (a single leaf is copied as is) and starts over.
    /// With a power-of-two number of leaves the bracketing is the complete binary tree.
    public func finish(into result: UnsafeMutablePointer<Float>) {
        precondition(!levels.isEmpty, "PairwiseSum finished with no leaves")
        while levels.count >= 2 {
            let right = stack[levels.count - 1], left = stack[levels.count - 2]
            for i in 0..<count { left[i] += right[i] }
            levels.removeLast()
        }
        result.update(from: stack[0], count: count)
        levels.removeAll(keepingCapacity: true)
    }
}
