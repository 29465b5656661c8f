// GradientReduction: turns one step's micro-batch gradients on every rank into the global batch's sum.
//
// A rank adds its micro-batch (leaf) gradients as a pairwise tree. While the last leaf's backward pass runs,
// each bucket of layers, as soon as all its layers are done, has the tree closed over its range and its
// non-blocking allreduce started (PyTorch DDP's design), so the sums travel while earlier layers still compute.
// Buckets hold whole layers in backward order; the buffer's tail (batch statistics and the step's exchange)
// goes last, after the backward pass. Without overlap there is one bucket, the whole buffer, after backward.
// Element by element every path does the same additions, so overlapped and fused runs are bit-identical.
// As each bucket leaves, the step's exchange checks this rank's numbers in it (StepExchange). The last bucket
// is waited for first (`finish`): it carries the exchange, whose verdict must be known before any parameter
// moves; then `nextSum` hands out each bucket's sum as it arrives, while later buckets still travel. With
// allreduce.compression the gradients' buckets travel as 16 bits; the tail never does (its counts and loss
// sums stay exact floats), so without overlap the tail is a bucket of its own.

import VAECommunication
import VAEMath

final class GradientReduction {
    struct Bucket: Equatable {
        let range: Range<Int>
        /// How many layers must finish before the bucket can start; 0 for the parts sent after backward.
        let layers: Int
    }

    let buckets: [Bucket]
    /// Wall time inside the communicator's calls: starting, moving on and waiting for the sums.
    private(set) var seconds = 0.0
    private let communicator: Communicator
    private let compression: AllreduceCompression
    private let algorithm: AllreduceAlgorithm
    /// Where the gradients end and the tail begins.
    private let parameterCount: Int
    private let buffer: UnsafeMutableBufferPointer<Float>
    private let leaves: PairwiseSum
    private let bucketOfLayer: [Int: Int]
    private var unfinishedLayers: [Int]
    private var nextBucket = 0
    private var inFlight: [PendingReduction] = []
    /// The next bucket `nextSum` hands out, once `finish` has waited for the tail.
    private var nextSummed = 0
    private var failure: Error?
    /// What crosses the wire besides the gradients; its fields are in the buffer's tail.
    let exchange: StepExchange
    /// What the model calls as each layer's gradients complete during the last leaf; nil without overlap.
    private(set) var layerFinished: ((Range<Int>) -> Void)?
    /// Where this step's buckets and waits are recorded, when it is traced.
    var timeline: Timeline?
    private var bucketStarts: [ContinuousClock.Instant] = []

    /// `buffer` is the reduction buffer of `parameters`: the gradients of `layerRanges` (in the order backward
    /// completes them, tiling the front of the buffer), then the tail, whose last Floats are the exchange's.
    init(parameters: ParameterStore, layerRanges: [Range<Int>], overlap: Bool, bucketFloats: Int,
         compression: AllreduceCompression = .none, algorithm: AllreduceAlgorithm = .auto, communicator: Communicator) {
        let buffer = parameters.reductionBuffer
        self.buffer = buffer
        self.communicator = communicator
        self.compression = compression
        self.algorithm = algorithm
        exchange = StepExchange(parameters: parameters)
        let parameterCount = layerRanges.map(\.upperBound).max() ?? 0
        self.parameterCount = parameterCount
        leaves = PairwiseSum(count: buffer.count)
        buckets = overlap ? Self.plan(layerRanges, bufferCount: buffer.count, bucketFloats: bucketFloats)
                : compression == .none || parameterCount == buffer.count ? [Bucket(range: 0..<buffer.count, layers: 0)]
                : [Bucket(range: 0..<parameterCount, layers: 0), Bucket(range: parameterCount..<buffer.count, layers: 0)]
        // Keyed by where a layer's range starts; empty without overlap, where no layer is heard.
        let buckets = buckets
        bucketOfLayer = overlap ? Dictionary(uniqueKeysWithValues: layerRanges.map { layer in
            (layer.lowerBound, buckets.firstIndex { $0.range.contains(layer.lowerBound) }!)
        }) : [:]
        unfinishedLayers = buckets.map(\.layers)
        if overlap { layerFinished = { [unowned self] in self.finished($0) } }
    }

    /// Groups whole layers, in backward order, into contiguous buckets of at least `bucketFloats`.
    static func plan(_ layerRanges: [Range<Int>], bufferCount: Int, bucketFloats: Int) -> [Bucket] {
        var buckets: [Bucket] = [], members: [Range<Int>] = []
        for (index, layer) in layerRanges.enumerated() {
            members.append(layer)
            let lower = members.map(\.lowerBound).min()!, upper = members.map(\.upperBound).max()!
            let floats = members.map(\.count).reduce(0, +)
            // A bucket is one contiguous range: keep adding layers until the members fill their hull.
            guard upper - lower == floats, floats >= bucketFloats || index == layerRanges.count - 1 else { continue }
            buckets.append(Bucket(range: lower..<upper, layers: members.count))
            members = []
        }
        precondition(members.isEmpty, "layer ranges \(layerRanges) do not tile a contiguous buffer")
        let parameters = buckets.map(\.range.upperBound).max() ?? 0
        if parameters < bufferCount { buckets.append(Bucket(range: parameters..<bufferCount, layers: 0)) }
        return buckets
    }

    /// Adds the buffer's gradients as one leaf; every micro-batch but a step's last.
    func addLeaf() { leaves.add(buffer.baseAddress!) }

    /// After the last leaf's backward pass (whose gradients are in the buffer, with the exchange filled in):
    /// starts what has not started and waits for the last bucket, which holds the tail; returns the exchange
    /// summed over every rank. Then call `nextSum` until it returns nil, or `discard`.
    func finish() throws -> StepExchange.Sums {
        if let failure {  // a sum that failed to start during backward: the job is ending, nothing to wait for
            self.failure = nil
            reset()
            throw failure
        }
        while nextBucket < buckets.count { try startNextBucket() }
        try timed {
            for reduction in inFlight.dropLast() { try reduction.test() }  // post their next rounds before blocking
            try timeline.span("wait for bucket \(buckets.count - 1)") { try inFlight.last!.wait() }
        }
        recordSum(of: buckets.count - 1)
        nextSummed = 0
        return exchange.sums
    }

    /// The next bucket's range once its global sum is in the buffer, in order, the tail's last; nil after it,
    /// when the reduction is ready for the next step. The time until the next call is the caller's update of
    /// that range, which a trace records as "update".
    func nextSum() throws -> Range<Int>? {
        if let handedOut = handedOutAt { timeline?.record("update", from: handedOut) }
        guard nextSummed < buckets.count else {
            reset()
            return nil
        }
        let index = nextSummed
        nextSummed += 1
        if index < buckets.count - 1 {
            try timed { try timeline.span("wait for bucket \(index)") { try inFlight[index].wait() } }
            recordSum(of: index)
        }
        handedOutAt = timeline == nil ? nil : .now
        return buckets[index].range
    }

    /// Waits for every sum still in flight without handing any out: a step that moves nothing.
    func discard() throws {
        defer { reset() }
        for reduction in inFlight.dropLast().dropFirst(nextSummed) { try timed { try reduction.wait() } }
    }

    private var handedOutAt: ContinuousClock.Instant?

    private func reset() {
        inFlight.removeAll(keepingCapacity: true)
        bucketStarts.removeAll(keepingCapacity: true)
        nextBucket = 0
        nextSummed = buckets.count
        handedOutAt = nil
        for (index, bucket) in buckets.enumerated() { unfinishedLayers[index] = bucket.layers }
        leaves.reset()
    }

    /// Bucket `index`'s allreduce, from its start to the end of the wait that brought its sum.
    private func recordSum(of index: Int) {
        timeline?.record("allreduce bucket \(index) (\(buckets[index].range.count * 4 / 1024) KiB)", row: .allreduce, from: bucketStarts[index])
    }

    private func finished(_ layer: Range<Int>) {
        guard failure == nil, let bucket = bucketOfLayer[layer.lowerBound] else { return }
        unfinishedLayers[bucket] -= 1
        do {
            while nextBucket < buckets.count && buckets[nextBucket].layers > 0 && unfinishedLayers[nextBucket] == 0 {
                try startNextBucket()
            }
            // MPI moves messages only inside its calls.
            try timed { for reduction in inFlight { try reduction.test() } }
        } catch {
            failure = error
        }
    }

    private func startNextBucket() throws {
        let range = buckets[nextBucket].range
        leaves.finish(range, lastLeaf: buffer.baseAddress!, into: buffer.baseAddress!)
        exchange.check(outgoing: range)
        let travelsAs = range.upperBound <= parameterCount ? compression : .none
        if timeline != nil { bucketStarts.append(.now) }
        try timed { inFlight.append(try communicator.startAllreduceSum(UnsafeMutableBufferPointer(rebasing: buffer[range]), compression: travelsAs,
                                                                                          algorithm: algorithm)) }
        nextBucket += 1
    }

    private func timed(_ body: () throws -> Void) throws {
        let start = ContinuousClock.now
        defer { seconds += start.secondsElapsed }
        try body()
    }
}
