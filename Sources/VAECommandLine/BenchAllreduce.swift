// `vae bench-allreduce`: times the exact sum alone, at each buffer size and algorithm, under mpirun, and
// checks its bits. Every rank makes the same leaves (a hash of rank and index, spread over 2^±8), so each
// rank can compute the tree the sum must follow and compare bit for bit; a mismatch is an error. Rank 0
// prints one JSON line per size and algorithm: the median time and the bytes this rank sent per sum.

import ArgumentParser
import Foundation
import VAECommunication
import VAEMath
import VAESupport

struct BenchAllreduce: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-allreduce", abstract: "Time and check the exact allreduce alone, one JSON line per size and algorithm.")

    @Option(help: "Buffer sizes in floats, comma-separated.") var floats = "1024,16384,131072,2650000"
    @Option(help: "doubling, halving or both.") var algorithm = "both"
    @Option(help: "none, bf16 or fp16.") var compression = AllreduceCompression.none
    @Option(help: "Timed sums per size and algorithm.") var repeats = 20
    @Option(name: .customLong("timeout-s"), help: "Seconds a sum waits for a partner before the job ends, naming it (0: for ever).")
    var timeoutSeconds = 300

    func validate() throws {
        guard sizes.allSatisfy({ $0 > 0 }), !sizes.isEmpty else { throw ValidationError("--floats \(floats): positive integers, comma-separated") }
        guard !algorithms.isEmpty else { throw ValidationError("--algorithm \(algorithm): one of doubling, halving, both") }
        guard repeats > 0 else { throw ValidationError("--repeats \(repeats): must be at least 1") }
        guard timeoutSeconds >= 0 else { throw ValidationError("--timeout-s \(timeoutSeconds): 0 (for ever) or a number of seconds") }
    }

    private var sizes: [Int] { floats.split(separator: ",").map { Int($0) ?? 0 } }
    private var algorithms: [AllreduceAlgorithm] {
        algorithm == "both" ? [.doubling, .halving] : AllreduceAlgorithm(rawValue: algorithm).map { $0 == .auto ? [] : [$0] } ?? []
    }

    func run() throws {
        let communicator = try joinRanks()
        communicator.waitLimit = timeoutSeconds > 0 ? .seconds(timeoutSeconds) : nil
        try reportingErrors(communicator) {
            for count in sizes {
                let mine = (0..<count).map { Self.leaf(rank: communicator.rank, index: $0) }
                let expected = Self.treeSums(count: count, ranks: communicator.size, rounding: compression)
                let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
                defer { buffer.deallocate() }
                for algorithm in algorithms {
                    var times: [Double] = []
                    let sentBefore = communicator.bytesSent
                    for _ in 0..<repeats {
                        _ = buffer.update(from: mine)
                        try communicator.barrier()
                        let start = ContinuousClock.now
                        try communicator.startAllreduceSum(buffer, compression: compression, algorithm: algorithm).wait()
                        times.append(start.secondsElapsed)
                        if let wrong = buffer.indices.first(where: { buffer[$0].bitPattern != expected[$0].bitPattern }) {
                            throw VAEError("bench-allreduce: \(algorithm.rawValue) over \(communicator.size) ranks, \(count) floats: element \(wrong) is \(buffer[wrong]), the tree gives \(expected[wrong])")
                        }
                    }
                    let sent = Double(communicator.bytesSent - sentBefore) / Double(repeats)
                    guard communicator.rank == 0 else { continue }
                    printLine(try JSON.line(AllreduceBenchResult(
                        ranks: communicator.size, floats: count, algorithm: algorithm.rawValue, compression: compression.rawValue,
                        milliseconds: (times.sorted()[times.count / 2] * 1e6).rounded() / 1e3,
                        sentBytesPerRank: Int(sent), sentPerBufferBytes: (sent / Double(count * 4) * 1000).rounded() / 1000)))
                }
            }
        }
    }

    /// Leaf `index` of `rank`: a hash's mantissa and sign with an exponent in 2^-8 … 2^8, so the bracketing shows.
    static func leaf(rank: Int, index: Int) -> Float {
        var h = UInt64(rank) << 40 ^ UInt64(index) &+ 0x9E37_79B9_7F4A_7C15
        h = (h ^ (h >> 30)) &* 0xBF58_476D_1CE4_E5B9
        h = (h ^ (h >> 27)) &* 0x94D0_49BB_1331_11EB
        h ^= h >> 31
        let exponent = UInt32(127 - 8 + Int(h % 17)), mantissa = UInt32(truncatingIfNeeded: h >> 20) & 0x7F_FFFF
        return Float(bitPattern: UInt32(truncatingIfNeeded: h >> 63) << 31 | exponent << 23 | mantissa)
    }

    /// What every element's sum must be: the leaves rounded; the ranks in groups by the binary digits of
    /// their count, largest first, each group's complete binary tree, then the groups' sums added from the
    /// smallest up, S0 + (S1 + …), every partial sum rounded: one rank's pairwise sum over the same leaves.
    static func treeSums(count: Int, ranks: Int, rounding: AllreduceCompression) -> [Float] {
        let groups = AllreduceAlgorithm.groups(ranks: ranks)
        var level = [Float](repeating: 0, count: groups.first ?? 1)
        return (0..<count).map { index in
            var sum: Float?, end = ranks
            for members in groups.reversed() {
                let base = end - members
                end = base
                for v in 0..<members { level[v] = rounding.rounded(leaf(rank: base + v, index: index)) }
                var width = members
                while width > 1 {
                    for v in 0..<(width / 2) { level[v] = rounding.rounded(level[2 * v] + level[2 * v + 1]) }
                    width /= 2
                }
                sum = sum.map { rounding.rounded(level[0] + $0) } ?? level[0]
            }
            return sum ?? 0
        }
    }
}

struct AllreduceBenchResult: Encodable {
    let ranks, floats: Int
    let algorithm, compression: String
    let milliseconds: Double
    let sentBytesPerRank: Int
    /// Bytes sent per rank over the buffer's float bytes: log2 P for doubling, 2 · (P − 1) / P for halving.
    let sentPerBufferBytes: Double

    enum CodingKeys: String, CodingKey {
        case ranks, floats, algorithm, compression, milliseconds = "ms", sentBytesPerRank = "sent_bytes_per_rank"
        case sentPerBufferBytes = "sent_per_buffer"
    }
}

extension AllreduceCompression: ExpressibleByArgument {}
