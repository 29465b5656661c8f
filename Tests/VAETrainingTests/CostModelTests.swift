// The cost model's arithmetic: rounds cost α and bytes cost 1/β, by the algorithm each bucket takes, with the
// groups' extra transfers at rank counts that are not powers of two and 16-bit gradients where compressed.

import Testing
import VAEMath
import VAECommunication
import VAETraining

@Suite struct CostModelTests {
    /// 1 Gbit/s at full efficiency: 125 MB/s; α 1 ms, large enough to see in the sums.
    let link = CostModel.Link(gigabitsPerSecond: 1, latency: 1e-3, efficiency: 1)
    let megabyte = 250_000  // floats

    func model(_ buckets: [Int], _ compression: AllreduceCompression = .none, _ algorithm: AllreduceAlgorithm = .auto) -> CostModel {
        CostModel(computeSeconds: 0.1, bucketFloats: buckets, compression: compression, algorithm: algorithm)
    }

    @Test func eachAlgorithmCostsItsRoundsAndBytes() {
        let buckets = [megabyte, 1]  // 1 MB of gradients and a one-float tail
        // 2 ranks: one round of the whole buffer (auto doubles below 4 ranks).
        #expect(abs(model(buckets).communicationSeconds(ranks: 2, link: link) - (2e-3 + 1e6 / 125e6 + 4 / 125e6)) < 1e-9)
        // 8 ranks, doubling: 3 rounds of 1 MB; halving: 6 rounds and 1.75 MB.
        #expect(abs(model([megabyte], .none, .doubling).communicationSeconds(ranks: 8, link: link) - 3 * (1e-3 + 0.008)) < 1e-9)
        #expect(abs(model([megabyte], .none, .halving).communicationSeconds(ranks: 8, link: link) - (6e-3 + 1.75 * 0.008)) < 1e-9)
        // 6 ranks are groups of 4 and 2: halving's 4 rounds and 1.5 MB in the 4, then a round for each group,
        // the 2's pieces (0.5 MB) and the whole sum to the 2.
        #expect(abs(model([megabyte]).communicationSeconds(ranks: 6, link: link) - (4e-3 + 1.5 * 0.008 + 2e-3 + 1.5 * 0.008)) < 1e-9)
        #expect(model(buckets).communicationSeconds(ranks: 1, link: link) == 0)
    }

    @Test func compressionHalvesTheGradientsButNotTheTail() {
        let bf16 = model([megabyte, megabyte], .bf16, .doubling).communicationSeconds(ranks: 2, link: link)
        #expect(abs(bf16 - (2e-3 + 0.004 + 0.008)) < 1e-9)
    }

    @Test func scalingIsComputeOverTheStep() {
        let m = model([megabyte], .none, .doubling)
        #expect(abs(m.stepSeconds(ranks: 2, link: link) - 0.109) < 1e-9)
        #expect(abs(m.scaling(ranks: 2, link: link) - 0.1 / 0.109) < 1e-9)
    }
}
