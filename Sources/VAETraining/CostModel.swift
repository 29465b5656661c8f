// CostModel: a step's time on N nodes, one rank each, predicted from one rank's measured compute time and
// an α–β (Hockney) model of the link: each message round costs α, each byte 1/β. The buckets travel one
// after another, each by the algorithm `allreduce.algorithm` picks for its size; a rank count that is not a
// power of two halves in its largest power-of-two group, and adds a round per further group, the last
// group's pieces and the whole sum's transfer to the other groups (an upper bound: the pieces travel
// while the largest group reduces). No overlap is counted: in
// the faces model the Dense layers hold 93% of the gradients and are done just before the encoder's
// backward, the only compute left to hide them, and on the measured links that window hid nothing
// (see docs/distributed.md, *The cost model*). Each rank keeps its images, so the global batch grows with N.

import VAECommunication
import VAEMath

public struct CostModel {
    public struct Link {
        public var gigabitsPerSecond: Double
        /// α: one round's latency, TCP's over Ethernet through MPI.
        public var latency: Double
        /// The share of the line rate that MPI over TCP moves (measured: 95% at 1 Gbit/s, 86% at 10).
        public var efficiency: Double

        public init(gigabitsPerSecond: Double, latency: Double = 25e-6, efficiency: Double = 0.9) {
            self.gigabitsPerSecond = gigabitsPerSecond
            self.latency = latency
            self.efficiency = efficiency
        }

        /// β.
        var bytesPerSecond: Double { gigabitsPerSecond * 1e9 / 8 * efficiency }
    }

    /// One rank's compute for its images: forward, backward and Adam.
    public let computeSeconds: Double
    /// The floats of each bucket, in the order they travel; the last is the tail, which never compresses.
    public let bucketFloats: [Int]
    public let compression: AllreduceCompression
    public let algorithm: AllreduceAlgorithm

    public init(computeSeconds: Double, bucketFloats: [Int], compression: AllreduceCompression, algorithm: AllreduceAlgorithm) {
        self.computeSeconds = computeSeconds
        self.bucketFloats = bucketFloats
        self.compression = compression
        self.algorithm = algorithm
    }

    /// The critical path of one step's sums over `ranks` ranks, one per node.
    public func communicationSeconds(ranks: Int, link: Link) -> Double {
        guard ranks > 1 else { return 0 }
        let groups = AllreduceAlgorithm.groups(ranks: ranks)
        let rounds = Double(groups[0].trailingZeroBitCount), p = Double(groups[0])
        return bucketFloats.enumerated().map { index, floats in
            let bytes = Double(floats * (compression != .none && index < bucketFloats.count - 1 ? 2 : 4))
            let halves = groups.count > 1 || algorithm.halves(floats: floats, ranks: ranks)
            var seconds = halves ? 2 * rounds * link.latency + 2 * (p - 1) / p * bytes / link.bytesPerSecond
                                 : rounds * (link.latency + bytes / link.bytesPerSecond)
            if groups.count > 1 {
                seconds += Double(groups.count) * link.latency + (bytes + bytes / Double(groups.last!)) / link.bytesPerSecond
            }
            return seconds
        }.reduce(0, +)
    }

    public func stepSeconds(ranks: Int, link: Link) -> Double { computeSeconds + communicationSeconds(ranks: ranks, link: link) }

    /// Weak scaling: one rank's step over N ranks' step, each rank with the same images.
    public func scaling(ranks: Int, link: Link) -> Double { computeSeconds / stepSeconds(ranks: ranks, link: link) }
}
