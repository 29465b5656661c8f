// How GradientReduction groups layers into buckets: whole layers in backward order, each bucket one
// contiguous range, the buffer's tail last; without overlap, one bucket. The tail's bucket is waited for
// first, and a step it turns down moves nothing.

import Testing
import VAECommunication
@testable import VAEConfig
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

    /// Two ranks holding the same gradients, as seen by one: a sum doubles the buffer. Logs each call.
    final class DoublingCommunicator: Communicator {
        var log: [String] = []
        /// What each started sum was asked to travel as.
        var compressions: [AllreduceCompression] = []
        var rank: Int { 0 }
        var size: Int { 2 }
        var localRank: Int { 0 }
        var localSize: Int { 2 }
        var waitLimit: Duration?
        func startAllreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>, compression: AllreduceCompression,
                               algorithm: AllreduceAlgorithm) throws -> PendingReduction {
            log.append("start \(buffer.count)")
            compressions.append(compression)
            return PendingReduction(advance: { true }, finish: { [self] in
                for i in buffer.indices { buffer[i] *= 2 }
                log.append("wait \(buffer.count)")
            })
        }
        var bytesSent: Int { 0 }
        func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws {}
        func barrier() throws {}
        func allgather(_ record: [UInt8]) throws -> [[UInt8]] { [record, record] }
        func abort(code: Int32) -> Never { fatalError() }
    }

    @Test func eachBucketStartsAsSoonAsItsLastLayerIsDoneAndSumsLikeTheFusedPath() throws {
        let communicator = DoublingCommunicator()
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: 22)
        defer { buffer.deallocate() }
        // Layers of 6, 4, 10 floats (backward order), a 2-float tail; buckets of at least 8 floats.
        let layers = [14..<20, 10..<14, 0..<10]
        // What this rank's share of each range holds when it is handed over for sending.
        var sent: [(range: Range<Int>, values: [Float])] = []
        let reduction = GradientReduction(buffer: buffer, layerRanges: layers, overlap: true, bucketFloats: 8, communicator: communicator) {
            sent.append(($0, Array(buffer[$0])))
        }
        #expect(reduction.buckets.map(\.range) == [10..<20, 0..<10, 20..<22])
        let leaves: [[Float]] = [(0..<22).map { Float($0) * 0.1 }, (0..<22).map { 1e8 - Float($0) }, (0..<22).map { Float($0) + 1 }]
        for leaf in leaves.dropLast() {
            _ = buffer.update(from: leaf)
            reduction.addLeaf()
        }
        _ = buffer.update(from: leaves.last!)
        let announce = try #require(reduction.layerFinished)
        announce(layers[0])
        #expect(communicator.log.isEmpty, "the first bucket still waits for its second layer")
        announce(layers[1])
        #expect(communicator.log == ["start 10"])
        announce(layers[2])
        #expect(communicator.log == ["start 10", "start 10"])
        var summed: [Range<Int>] = []
        try reduction.finishStep(proceed: { summed.isEmpty }) { summed.append($0) }
        #expect(communicator.log == ["start 10", "start 10", "start 2", "wait 2", "wait 10", "wait 10"])
        #expect(summed == [10..<20, 0..<10, 20..<22])
        let local: [Float] = (0..<22).map { i in
            let first: Float = leaves[0][i] + leaves[1][i]
            return first + leaves[2][i]
        }
        #expect(sent.map(\.range) == [10..<20, 0..<10, 20..<22])
        #expect(sent.allSatisfy { $0.values == Array(local[$0.range]) }, "each range is handed over summed over the leaves, before the ranks' sum")
        #expect(Array(buffer) == local.map { $0 * 2 })
    }

    @Test func aStepTurnedDownWaitsForEverySumAndHandsOverNone() throws {
        let communicator = DoublingCommunicator()
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: 22)
        defer { buffer.deallocate() }
        let reduction = GradientReduction(buffer: buffer, layerRanges: [14..<20, 10..<14, 0..<10], overlap: false, bucketFloats: 8,
                                          communicator: communicator)
        _ = buffer.update(from: [Float](repeating: 1, count: 22))
        var asked = 0, summed: [Range<Int>] = []
        try reduction.finishStep(proceed: { asked += 1; return false }) { summed.append($0) }
        #expect(asked == 1 && summed.isEmpty && communicator.log == ["start 22", "wait 22"])
        try reduction.finishStep(proceed: { true }) { summed.append($0) }
        #expect(summed == [0..<22], "the next step starts afresh")
    }

    @Test func compressionLeavesTheTailAsFloatsInABucketOfItsOwn() throws {
        for overlap in [false, true] {
            let communicator = DoublingCommunicator()
            let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: 22)
            defer { buffer.deallocate() }
            let layers = [14..<20, 10..<14, 0..<10]
            let reduction = GradientReduction(buffer: buffer, layerRanges: layers, overlap: overlap, bucketFloats: 8,
                                              compression: .bf16, communicator: communicator)
            #expect(reduction.buckets.last?.range == 20..<22, "the loss sums, counts and batch statistics: \(reduction.buckets)")
            _ = buffer.update(from: [Float](repeating: 1, count: 22))
            if overlap { layers.forEach { reduction.layerFinished!($0) } }
            try reduction.finishStep(proceed: { true }) { _ in }
            #expect(communicator.compressions == reduction.buckets.dropLast().map { _ in .bf16 } + [.none])
        }
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
