// allreduce.compression under a real `mpirun`: with bf16 or fp16 on the wire every rank still ends every step
// with the same weights (the divergence watchdog compares their hashes after each step and would end the run),
// and the loss stays close to the uncompressed run's. Compressed runs are not bit-identical across rank
// counts: each rank count rounds a different set of the tree's partial sums to 16 bits.

import Foundation
import TestSupport
import Testing

@Suite(.serialized) struct CompressionTests {
    /// 50 steps of the book's model on 1,600 real images, the ranks' weights compared after every step.
    let fiftySteps = ["--set", "data.limit=1600", "--set", "training.epochs=1", "--set", "training.log_every_steps=1",
                      "--set", "watchdog.check_every_steps=1", "--set", "samples.every_epochs=0"]

    func trajectory(ranks: Int, _ compression: String) throws -> [Double] {
        let out = temporaryDirectory().path
        let outcome = try mpirunTrain(ranks: ranks, fiftySteps + ["--set", "allreduce.compression=\(compression)", "--out", out])
        #expect(outcome.status == 0, "\(compression) over \(ranks) ranks: \(outcome.stderr)")
        let losses = try intervalLosses(in: out)
        #expect(losses.count == 50)
        return losses
    }

    @Test func everyRankKeepsTheSameWeightsAndTheLossStaysCloseToTheUncompressedRun() throws {
        let exact = try trajectory(ranks: 2, "none")
        for compression in ["bf16", "fp16"] {
            for ranks in [2, 4] {
                let compressed = try trajectory(ranks: ranks, compression)
                let difference = maxRelativeDifference(exact, compressed)
                print("\(compression) over \(ranks) ranks: losses within \(difference) (relative) of the uncompressed run's")
                #expect(difference < 0.01, "\(compression) over \(ranks) ranks: the losses differ by up to \(difference) (relative)")
                #expect(abs(compressed.last! - exact.last!) < 0.01 * exact.last!, "\(compressed.last!) against \(exact.last!) at the end")
            }
        }
    }

    @Test func compressedRunsDifferAcrossRankCountsButNotBetweenRepeats() throws {
        let two = try trajectory(ranks: 2, "bf16"), four = try trajectory(ranks: 4, "bf16")
        print("bf16 over 2 and 4 ranks: losses within \(maxRelativeDifference(two, four)) (relative)")
        #expect(two != four, "4 ranks round the micro-batch sums that 2 ranks add as floats")
        #expect(two == (try trajectory(ranks: 2, "bf16")), "a compressed run is reproducible")
    }

    @Test func aNaNGradientOnRankOneStillStopsACompressedJob() throws {
        // Each rank checks its float gradients before they are rounded, and the verdict travels in the float tail.
        for compression in ["bf16", "fp16"] {
            let outcome = try mpirunTrain(ranks: 2, fiftySteps + ["--set", "allreduce.compression=\(compression)", "--out", temporaryDirectory().path],
                                          environment: ["VAE_NAN_AT_STEP": "1:7"], binary: faultInjectionBinary)
            #expect(outcome.status != 0)
            #expect(outcome.stderr.contains("step 7: the gradients went non-finite on rank 1; the run stops without taking the step"),
                    "\(compression): \(outcome.stderr)")
        }
    }
}
