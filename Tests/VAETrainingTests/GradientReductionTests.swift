// How GradientReduction groups layers into buckets: whole layers in backward order, each bucket one
// contiguous range, the buffer's tail last; without overlap, one bucket.

import Testing
import VAECommunication
@testable import VAETraining

@Suite struct GradientReductionTests {
    typealias Bucket = GradientReduction.Bucket

    @Test func bucketsGroupWholeLayersInBackwardOrder() {
        let layers = [30..<40, 20..<30, 0..<20]
        #expect(GradientReduction.plan(layers, bufferCount: 43, bucketFloats: 15)
                == [Bucket(range: 20..<40, layers: 2), Bucket(range: 0..<20, layers: 1), Bucket(range: 40..<43, layers: 0)])
        #expect(GradientReduction.plan(layers, bufferCount: 40, bucketFloats: 1).map(\.range) == layers)
    }

    @Test func aBucketWaitsUntilItsLayersFillOneRange() {
        // The model's backward order visits decoder_dense, then mu, then log_var, which lie in the other order.
        let layers = [10..<15, 0..<5, 5..<10, 15..<20]
        #expect(GradientReduction.plan(layers, bufferCount: 20, bucketFloats: 8)
                == [Bucket(range: 0..<15, layers: 3), Bucket(range: 15..<20, layers: 1)])
    }

    @Test func withoutOverlapOneBucketHoldsTheWholeBuffer() {
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: 12)
        defer { buffer.deallocate() }
        let reduction = GradientReduction(buffer: buffer, layerRanges: [4..<8, 0..<4], overlap: false, bucketFloats: 1,
                                          communicator: SingleProcessCommunicator())
        #expect(reduction.buckets == [Bucket(range: 0..<12, layers: 0)])
        #expect(reduction.layerFinished == nil)
    }

    @Test func theBookModelSplitsIntoSeveralBucketsAtTheDefaultSize() throws {
        var config = TrainingConfig()
        config.data.limit = 64
        let trainer = try Trainer(config: config)
        let p = trainer.model.parameters
        let buckets = GradientReduction.plan(trainer.model.backwardParameterRanges, bufferCount: p.reductionBuffer.count,
                                             bucketFloats: TrainingConfig().allreduce.bucketKB * 256)
        #expect(trainer.bucketCount == buckets.count && buckets.count >= 4)
        #expect(buckets.last == Bucket(range: p.count..<p.reductionBuffer.count, layers: 0))
        let sorted = buckets.map(\.range).sorted { $0.lowerBound < $1.lowerBound }
        #expect(sorted.first?.lowerBound == 0 && sorted.last?.upperBound == p.reductionBuffer.count)
        #expect(zip(sorted, sorted.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound }, "buckets tile the buffer: \(sorted)")
    }
}
