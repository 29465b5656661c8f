// EpochSampler: which global sample indices each step of each epoch sees.
//
// Epoch e's order is a permutation of 0..<sampleCount that depends only on (seed, e). It is cut into
// global batches of `globalBatch`; the final partial batch is dropped. A rank r of `worldSize` takes
// the r-th contiguous slice of every global batch, so the ranks together see each kept index once.

import VAEMath

public struct EpochSampler: Sendable {
    public let sampleCount: Int
    public let globalBatch: Int
    public let seed: UInt64

    public init(sampleCount: Int, globalBatch: Int, seed: UInt64) {
        precondition(globalBatch > 0, "global batch must be positive")
        self.sampleCount = sampleCount
        self.globalBatch = globalBatch
        self.seed = seed
    }

    public var stepsPerEpoch: Int { sampleCount / globalBatch }

    public func order(epoch: Int) -> [Int] {
        CounterRandom.permutation(count: sampleCount, seed: seed, purpose: .shuffle, key: UInt64(epoch))
    }

    /// Rank `rank`'s slice of global batch `step` within `order` (from `order(epoch:)`).
    public func indices(in order: [Int], step: Int, rank: Int = 0, worldSize: Int = 1) -> ArraySlice<Int> {
        precondition(step >= 0 && step < stepsPerEpoch, "step \(step) out of 0..<\(stepsPerEpoch)")
        precondition(globalBatch % worldSize == 0, "global batch \(globalBatch) does not divide over \(worldSize) ranks")
        let local = globalBatch / worldSize
        let start = step * globalBatch + rank * local
        return order[start..<(start + local)]
    }
}
