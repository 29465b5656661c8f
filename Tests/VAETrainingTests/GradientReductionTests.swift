// How GradientReduction groups layers into buckets: whole layers in backward order, each bucket one
// contiguous range, the buffer's tail last; without overlap, one bucket. The tail's bucket is waited for
// first; its verdict turns a step with a NaN down, and a step turned down hands out no sum.

import Testing
import VAEMath
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

    /// A store of `count` trained Floats and the step's exchange after them, as the trainer makes it.
    func parameters(_ count: Int) -> ParameterStore {
        let store = ParameterStore()
        _ = store.declare("w", shape: [count])
        store.allocate(seed: 0, reservedTail: StepExchange.reservedFloats)
        return store
    }

    @Test func withoutOverlapOneBucketHoldsTheWholeBuffer() {
        let reduction = GradientReduction(parameters: parameters(8), layerRanges: [4..<8, 0..<4], overlap: false, bucketFloats: 1,
                                          communicator: SingleProcessCommunicator())
        #expect(reduction.buckets == [Bucket(range: 0..<14, layers: 0)])
        #expect(reduction.layerFinished == nil)
    }

    /// Two ranks holding the same gradients, as seen by one: a sum doubles the buffer. Logs each call, and what
    /// each sum was handed: this rank's share, before the ranks' sum.
    final class DoublingCommunicator: Communicator {
        var log: [String] = []
        var sent: [[Float]] = []
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
            sent.append(Array(buffer))
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

    /// Every range `nextSum` hands out, in order.
    func handedOut(_ reduction: GradientReduction) throws -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        while let range = try reduction.nextSum() { ranges.append(range) }
        return ranges
    }

    @Test func eachBucketStartsAsSoonAsItsLastLayerIsDoneAndSumsLikeTheFusedPath() throws {
        let communicator = DoublingCommunicator(), store = parameters(20), buffer = store.reductionBuffer
        // Layers of 6, 4, 10 floats (backward order), the exchange's 6-float tail; buckets of at least 8 floats.
        let layers = [14..<20, 10..<14, 0..<10]
        let reduction = GradientReduction(parameters: store, layerRanges: layers, overlap: true, bucketFloats: 8, communicator: communicator)
        #expect(reduction.buckets.map(\.range) == [10..<20, 0..<10, 20..<26])
        let leaves: [[Float]] = [(0..<26).map { Float($0) * 0.1 }, (0..<26).map { 1e8 - Float($0) }, (0..<26).map { Float($0) + 1 }]
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
        #expect(try reduction.finish().allFinite)
        #expect(communicator.log == ["start 10", "start 10", "start 6", "wait 6"], "the tail is waited for first")
        #expect(try handedOut(reduction) == [10..<20, 0..<10, 20..<26])
        #expect(communicator.log == ["start 10", "start 10", "start 6", "wait 6", "wait 10", "wait 10"])
        let local: [Float] = (0..<26).map { i in
            let first: Float = leaves[0][i] + leaves[1][i]
            return first + leaves[2][i]
        }
        // The gradients and the loss sums; the tail's last Floats carry this rank's verdict instead.
        let summed = 0..<22
        #expect(zip(communicator.sent, [10..<20, 0..<10, 20..<22]).allSatisfy { Array($0.prefix($1.count)) == Array(local[$1]) },
                "each range is handed over summed over the leaves, before the ranks' sum")
        #expect(Array(buffer[summed]) == local[summed].map { $0 * 2 })
    }

    @Test func aStepTurnedDownWaitsForEverySumAndHandsOverNone() throws {
        let communicator = DoublingCommunicator(), store = parameters(20)
        let reduction = GradientReduction(parameters: store, layerRanges: [14..<20, 10..<14, 0..<10], overlap: false, bucketFloats: 8,
                                          communicator: communicator)
        _ = store.reductionBuffer.update(from: [Float](repeating: 1, count: 26))
        _ = try reduction.finish()
        try reduction.discard()
        #expect(communicator.log == ["start 26", "wait 26"])
        _ = try reduction.finish()
        #expect(try handedOut(reduction) == [0..<26], "the next step starts afresh")
    }

    @Test func aNaNInThisRanksGradientsTurnsTheStepDownOnEveryRank() throws {
        let store = parameters(20)
        let reduction = GradientReduction(parameters: store, layerRanges: [10..<20, 0..<10], overlap: false, bucketFloats: 8,
                                          communicator: DoublingCommunicator())
        store.gradients[3] = .nan
        #expect(try !reduction.finish().allFinite)
        #expect(reduction.exchange.sent == StepExchange.Verdict(loss: false, gradients: true))
        try reduction.discard()
    }

    @Test func compressionLeavesTheTailAsFloatsInABucketOfItsOwn() throws {
        for overlap in [false, true] {
            let communicator = DoublingCommunicator(), store = parameters(20)
            let layers = [14..<20, 10..<14, 0..<10]
            let reduction = GradientReduction(parameters: store, layerRanges: layers, overlap: overlap, bucketFloats: 8,
                                              compression: .bf16, communicator: communicator)
            #expect(reduction.buckets.last?.range == 20..<26, "the loss sums, counts and batch statistics: \(reduction.buckets)")
            _ = store.reductionBuffer.update(from: [Float](repeating: 1, count: 26))
            if overlap { layers.forEach { reduction.layerFinished!($0) } }
            _ = try reduction.finish()
            _ = try handedOut(reduction)
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
