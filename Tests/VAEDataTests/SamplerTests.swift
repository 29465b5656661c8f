// The sampler: a fresh permutation per epoch, the partial batch dropped, and rank slices that together
// cover every kept index once.

import Testing
import VAEData
import VAETraining

@Suite struct SamplerTests {
    @Test func epochsArePermutationsWithThePartialBatchDropped() {
        let sampler = EpochSampler(sampleCount: 100, globalBatch: 16, seed: 3)
        #expect(sampler.stepsPerEpoch == 6)
        let first = sampler.order(epoch: 0), second = sampler.order(epoch: 1)
        #expect(first.sorted() == Array(0..<100) && first != second)
        #expect(first == EpochSampler(sampleCount: 100, globalBatch: 16, seed: 3).order(epoch: 0))
        let seen = (0..<6).flatMap { sampler.indices(in: first, step: $0) }
        #expect(seen == Array(first[0..<96]))
    }

    @Test(arguments: [1, 2, 4, 8])
    func ranksSliceEveryGlobalBatch(worldSize: Int) {
        let sampler = EpochSampler(sampleCount: 1000, globalBatch: 32, seed: 1)
        let order = sampler.order(epoch: 2)
        var seen: [Int] = []
        for step in 0..<sampler.stepsPerEpoch {
            var global: [Int] = []
            for rank in 0..<worldSize {
                let slice = sampler.indices(in: order, step: step, rank: rank, worldSize: worldSize)
                #expect(slice.count == 32 / worldSize)
                global += slice
            }
            #expect(global == Array(sampler.indices(in: order, step: step)))
            seen += global
        }
        #expect(Set(seen).count == seen.count && seen.count == 31 * 32)
    }
}
