// Numbers gone wrong under a real `mpirun`, injected on one rank by `vae-fault-injection`: a NaN gradient on
// rank 1 stops the job naming rank 1 and keeps the last good checkpoint, or under `skip` is dropped, leaving
// the same weights as one rank skipping the same step; ranks whose weights drift apart are named by the
// watchdog, which a healthy run passes at every step.

import Foundation
import TestSupport
import Testing

@Suite(.serialized) struct NonfiniteUnderMPITests {
    /// 20 steps on 640 real images, a checkpoint every 5, no pictures.
    let twentySteps = ["--set", "data.limit=640", "--set", "training.epochs=1", "--set", "checkpoint.every_steps=5",
                       "--set", "samples.every_epochs=0"]

    @Test func aNaNGradientOnRankOneStopsTheJobNamingIt() throws {
        let out = temporaryDirectory().path
        let outcome = try mpirunTrain(ranks: 2, twentySteps + ["--out", out], environment: ["VAE_NAN_AT_STEP": "1:7"], binary: faultInjectionBinary)
        #expect(outcome.status != 0)
        #expect(outcome.stderr.contains("step 7: the gradients went non-finite on rank 1; the run stops without taking the step"), "\(outcome.stderr)")
        let checkpoints = out + "/checkpoints"
        #expect(try FileManager.default.contentsOfDirectory(atPath: checkpoints).sorted() == ["latest", "step-00000005"])
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: checkpoints + "/latest") == "step-00000005")
    }

    @Test func underSkipTwoRanksDropTheStepAsOneRankDoes() throws {
        let skip = twentySteps + ["--set", "training.on_nonfinite=skip", "--set", "watchdog.check_every_steps=1"]
        var weights: [Data] = []
        for (ranks, poisoned) in [(1, 0), (2, 1)] {
            let out = temporaryDirectory().path
            let outcome = try mpirunTrain(ranks: ranks, skip + ["--out", out], environment: ["VAE_NAN_AT_STEP": "\(poisoned):7"],
                                          binary: faultInjectionBinary)
            #expect(outcome.status == 0, "\(ranks) ranks: \(outcome.stderr)")
            #expect(outcome.stdout.contains("warning: step 7: the gradients went non-finite on rank \(poisoned); skipped"), "\(outcome.stdout)")
            #expect(outcome.stdout.split(separator: "\n").contains { $0.hasPrefix("epoch 1 ") && $0.hasSuffix("  skipped 1") }, "\(outcome.stdout)")
            let epoch = try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").last!
            #expect(epoch.contains("\"kind\":\"epoch\"") && epoch.contains("\"skipped_steps\":1"), "\(epoch)")
            weights.append(try #require(FileManager.default.contents(atPath: out + "/checkpoints/step-00000020/model.safetensors")))
        }
        #expect(weights[0] == weights[1])
    }

    @Test func ranksWhoseWeightsDriftApartAreNamedByTheWatchdog() throws {
        let outcome = try mpirunTrain(ranks: 2, twentySteps + ["--out", temporaryDirectory().path, "--set", "watchdog.check_every_steps=5"],
                                      environment: ["VAE_PERTURB_PARAMETERS": "1:8"], binary: faultInjectionBinary)
        #expect(outcome.status != 0)
        #expect(outcome.stderr.contains("step 10: the weights of rank 1 differ from rank 0's (watchdog.check_every_steps)"), "\(outcome.stderr)")
    }
}
