// What the exact, overlapped allreduce rests on: the pairwise sum's bracketing, finishing it range by range
// with the same bits, and the model announcing each layer's gradients in the order it promised; and the
// one-pass check that finds a NaN or an infinity in a gradient buffer.

import Testing
import VAEMath

@Suite struct GradientSumTests {
    /// Values whose sums round differently under different bracketings: 1 + 1e8 rounds to 1e8 in Float.
    static func leaves(_ count: Int, length: Int) -> [[Float]] {
        let pattern: [Float] = [1, 1e8, -1e8, 1, 0.5, -3]
        return (0..<count).map { leaf in (0..<length).map { pattern[(leaf + $0) % pattern.count] * Float($0 + 1) } }
    }

    @Test func fourLeavesSumAsACompleteBinaryTree() {
        let l = Self.leaves(4, length: 5), sum = PairwiseSum(count: 5)
        var result = [Float](repeating: 0, count: 5)
        l.dropLast().forEach { sum.add($0) }
        sum.finish(0..<5, lastLeaf: l[3], into: &result)
        let tree: [Float] = (0..<5).map { i in
            let left: Float = l[0][i] + l[1][i], right: Float = l[2][i] + l[3][i]
            return left + right
        }
        let chain: [Float] = (0..<5).map { i in
            let first: Float = l[0][i] + l[1][i], second: Float = first + l[2][i]
            return second + l[3][i]
        }
        #expect(result == tree)
        #expect(chain != tree, "the test values must tell bracketings apart")
    }

    @Test(arguments: [1, 3, 4, 6])
    func finishingRangeByRangeGivesTheSameBitsAsTheWhole(leafCount: Int) {
        let l = Self.leaves(leafCount, length: 10), whole = PairwiseSum(count: 10), pieces = PairwiseSum(count: 10)
        var expected = [Float](repeating: 0, count: 10)
        l.dropLast().forEach { whole.add($0); pieces.add($0) }
        whole.finish(0..<10, lastLeaf: l.last!, into: &expected)
        // The last leaf is also the result buffer, as in training, and the ranges come out of order.
        var buffer = l.last!
        for range in [6..<10, 0..<2, 2..<6] { pieces.finish(range, lastLeaf: buffer, into: &buffer) }
        #expect(buffer == expected)
        // Finishing leaves the partial sums as they were: a second finish of the same leaves agrees.
        var again = [Float](repeating: 0, count: 10)
        whole.finish(0..<10, lastLeaf: l.last!, into: &again)
        #expect(again == expected)
        pieces.reset()
        pieces.add(l[0])
        pieces.finish(0..<10, lastLeaf: l[0], into: &buffer)
        #expect(buffer == (0..<10).map { l[0][$0] + l[0][$0] }, "reset starts a new sum")
    }

    @Test(arguments: [false, true])
    func layersAnnounceTheirGradientsInBackwardOrderAndTileTheBuffer(batchNorm: Bool) {
        var architecture = ModelGradientTests.small
        architecture.useBatchNorm = batchNorm
        let model = VariationalAutoencoder(architecture, seed: 1)
        let ranges = model.backwardParameterRanges
        let sorted = ranges.sorted { $0.lowerBound < $1.lowerBound }
        #expect(sorted.first?.lowerBound == 0 && sorted.last?.upperBound == model.parameters.count)
        #expect(zip(sorted, sorted.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound }, "the ranges tile the parameters: \(sorted)")
        var heard: [Range<Int>] = [], announced: [[Float]] = []
        model.parameters.zeroGradients()
        model.forwardBackward(Tensor(batch: 2, itemShape: [8, 8, 1], values: randomValues(128, seed: 3, in: 0...1)), trainingContext(batch: 2),
                        rLossFactor: 10, globalBatch: 2) { range in
            heard.append(range)
            announced.append(Array(model.parameters.gradientBuffer[range]))
        }
        #expect(heard == ranges)
        // Once announced, a layer's gradients are final: nothing later in backward touches them.
        for (range, values) in zip(heard, announced) {
            #expect(Array(model.parameters.gradientBuffer[range]) == values && values.contains { $0 != 0 }, "\(range)")
        }
    }

    @Test func theSumOfSquaresIsNotFiniteExactlyWhenAnElementIsNotOrItOverflows() {
        // 37 elements: two 16-lane blocks and a tail of 5, so each part is tried.
        let values = (0..<37).map { Float($0 % 7) - 3 }
        #expect(Kernels.sumOfSquares(values, count: values.count) == values.map { $0 * $0 }.reduce(0, +))
        for position in [0, 20, 36] {
            for bad in [Float.nan, .infinity, -.infinity] {
                var poisoned = values
                poisoned[position] = bad
                #expect(!Kernels.sumOfSquares(poisoned, count: poisoned.count).isFinite, "\(bad) at \(position)")
            }
        }
        #expect(!Kernels.sumOfSquares([2e19, 1], count: 2).isFinite, "a square past Float's range")
    }
}
