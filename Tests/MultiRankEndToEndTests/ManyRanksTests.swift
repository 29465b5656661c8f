// Past two nodes: the exact sum at the rank counts a cluster uses. Rabenseifner's halving and recursive
// doubling add every element in one tree, so 16 and 32 ranks end with one rank's bytes; rank counts that
// are not powers of two add groups' sums as one rank's pairwise sum would, and end with one rank's bytes
// too when each rank holds a power-of-two number of micro-batches; otherwise every rank keeps the same weights.

import Foundation
import TestSupport
import Testing

@Suite(.serialized) struct ManyRanksTests {
    /// 10 steps of the global batch of 32, one sample a micro-batch so that 32 ranks can share it.
    let tenSteps = ["--set", "data.limit=320", "--set", "training.epochs=1", "--set", "training.micro_batch=1",
                    "--set", "samples.every_epochs=0", "--set", "watchdog.timeout_s=60"]

    func finalWeights(ranks: Int, _ settings: [String] = [], step: Int = 10) throws -> Data {
        let out = temporaryDirectory().path
        let outcome = try mpirunTrain(ranks: ranks, tenSteps + settings + ["--out", out])
        #expect(outcome.status == 0, "\(ranks) ranks: \(outcome.stderr)")
        return try #require(FileManager.default.contents(atPath: out + "/checkpoints/step-" + String(format: "%08d", step) + "/model.safetensors"))
    }

    @Test func sixteenAndThirtyTwoRanksEndWithOneRanksBytes() throws {
        let one = try finalWeights(ranks: 1)
        for (ranks, algorithm) in [(16, "doubling"), (16, "halving"), (32, "auto"), (32, "halving")] {
            let many = try finalWeights(ranks: ranks, ["--set", "allreduce.algorithm=\(algorithm)"])
            #expect(many == one, "\(ranks) ranks by \(algorithm)")
        }
    }

    @Test func everyAlgorithmFollowsTheTreeAndSendsWhatItsFormulaSays() throws {
        // bench-allreduce compares every element of every rank's sum, bit for bit, with the tree; odd sizes
        // leave halving's segments uneven, and 1 float leaves some empty.
        for ranks in [2, 3, 4, 5, 6, 7, 8, 12, 16, 32] {
            for compression in ["none", "bf16", "fp16"] where compression == "none" || ranks <= 8 {
                let outcome = try runJob(["mpirun", "-np", "\(ranks)", "--oversubscribe", "--bind-to", "none", vaeBinary, "bench-allreduce",
                                          "--floats", "1,7,1000,20001", "--repeats", "2", "--compression", compression])
                #expect(outcome.status == 0, "\(ranks) ranks, \(compression): \(outcome.stderr)")
                let lines = try outcome.stdout.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
                #expect(lines.count == 8, "\(outcome.stdout)")
                guard compression == "none", ranks & (ranks - 1) == 0 else { continue }
                // Rank 0's bytes per sum of 20,001 floats against log2 P and 2 · (P − 1) / P buffers.
                let p = Double(ranks), perBuffer = { (algorithm: String) in
                    lines.first { $0["floats"] as? Int == 20001 && $0["algorithm"] as? String == algorithm }?["sent_per_buffer"] as? Double ?? -1
                }
                #expect(abs(perBuffer("doubling") - log2(p)) < 0.001, "\(ranks) ranks: \(outcome.stdout)")
                #expect(abs(perBuffer("halving") - 2 * (p - 1) / p) < 0.001, "\(ranks) ranks: \(outcome.stdout)")
            }
        }
    }

    @Test func ranksThatAreNotAPowerOfTwoEndWithOneRanksBytes() throws {
        // With a power-of-two number of micro-batches a rank, each rank's sum is a subtree of one rank's, and
        // the groups (5 = 4 + 1, 6 = 4 + 2, 7 = 4 + 2 + 1) add their sums as one rank's pairwise sum does.
        for (ranks, batch) in [(3, 48), (5, 40), (6, 48), (7, 56)] {
            let batchSize = ["--set", "training.batch_size=\(batch)", "--set", "data.limit=\(batch * 4)"]
            let one = try finalWeights(ranks: 1, batchSize, step: 4), many = try finalWeights(ranks: ranks, batchSize, step: 4)
            #expect(many == one, "\(ranks) ranks, batch \(batch)")
        }
    }

    @Test func otherwiseEveryRankStillKeepsTheSameWeights() throws {
        // watchdog.check_every_steps 1: after every step the ranks compare a hash of their weights, and one that
        // differs ends the run by name. 6 or 3 micro-batches a rank, or 16-bit sums: close to one rank, not the same.
        let settings = ["--set", "data.limit=2880", "--set", "training.batch_size=144", "--set", "training.epochs=1",
                        "--set", "training.log_every_steps=1", "--set", "samples.every_epochs=0", "--set", "watchdog.check_every_steps=1"]
        let one = temporaryDirectory().path
        #expect(try mpirunTrain(ranks: 1, settings + ["--out", one]).status == 0)
        for (ranks, compression) in [(3, "none"), (3, "bf16"), (6, "bf16")] {
            let out = temporaryDirectory().path
            let outcome = try mpirunTrain(ranks: ranks, settings + ["--set", "allreduce.compression=\(compression)", "--out", out])
            #expect(outcome.status == 0, "\(ranks) ranks, \(compression): \(outcome.stderr)")
            let (single, many) = (try intervalLosses(in: one), try intervalLosses(in: out))
            #expect(single.count == 20 && many.count == 20)
            #expect(maxRelativeDifference(single, many) < (compression == "none" ? 1e-3 : 1e-2),
                    "\(ranks) ranks, \(compression): differ by up to \(maxRelativeDifference(single, many))")
        }
    }

    @Test(needsRoot("launch/testing/namespace-hosts.sh creates network namespaces"))
    func aHostsRanksSideBySideKeepTheFirstRoundsOffTheLink() throws {
        // 2 hosts × 2 ranks. Side by side (--map-by slot, as the launchers place them), round 1 pairs ranks of
        // one host, so only round 2 crosses the link: per host, 2 ranks × N for doubling and 2 × N / 2 for
        // halving. Round robin (--map-by node) sends round 1 across too: 2 × N more per host.
        let floats = 262_144, repeats = 10, buffer = Double(floats * 4 * repeats)
        func hostBytes(_ mapping: String) throws -> [Double] {
            let counts = temporaryDirectory().path + "/bytes"
            let outcome = try runJob([packageRoot.appendingPathComponent("launch/testing/namespace-hosts.sh").path, "--map-by", mapping, "--",
                                      vaeBinary, "bench-allreduce", "--floats", "\(floats)", "--repeats", "\(repeats)"],
                                     environment: ["HOSTS": "2", "HOSTS_SLOTS": "2", "HOSTS_BYTES": counts])
            #expect(outcome.status == 0, "\(outcome.stderr)")
            return try String(contentsOfFile: counts, encoding: .utf8).split(separator: "\n").map { Double($0.split(separator: " ")[1])! / buffer }
        }
        let sideBySide = try hostBytes("slot"), roundRobin = try hostBytes("node")
        #expect(sideBySide.count == 2 && sideBySide.allSatisfy { (3.0...3.2).contains($0) }, "\(sideBySide) buffers a host")
        #expect(roundRobin.count == 2 && roundRobin.allSatisfy { (4.0...4.2).contains($0) }, "\(roundRobin) buffers a host")
    }
}
