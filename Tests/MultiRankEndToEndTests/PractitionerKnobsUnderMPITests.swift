// The practitioner's knobs under a real `mpirun`: β 4 with a KL warm-up, clipping, the weights' average and
// keep_best (validating on the test split) train the same bytes at 1, 2 and 4 ranks, weights, average,
// validation losses and best checkpoint alike; with bf16 gradients the ranks still hold the same weights every
// step; and TensorBoard's own reader finds in the event files every number metrics.jsonl holds, the sample
// pictures as they were written, and after a resume no step twice.

import Crypto
import Foundation
import TestSupport
import Testing
import VAECheckpoint

/// The command on 640 images for 2 epochs of 20 steps: the warm-up spans the run, so the weight moves.
private let knobs = ["--set", "data.limit=640", "--set", "training.epochs=2", "--set", "loss.beta=4", "--set", "loss.kl_warmup_steps=30",
                     "--set", "training.clip_grad_norm=5", "--set", "training.ema_decay=0.999", "--set", "checkpoint.keep_best=true"]

/// TensorBoard's reader, in the virtualenv launch/install-packages.sh --test makes.
private let tensorBoardPython: String? = {
    let venv = ProcessInfo.processInfo.environment["VAE_TEST_VENV"] ?? NSHomeDirectory() + "/.cache/swift-vae/test-venv"
    return FileManager.default.isExecutableFile(atPath: venv + "/bin/python") ? venv + "/bin/python" : nil
}()

@Suite struct PractitionerKnobsUnderMPITests {
    func file(_ out: String, _ name: String, step: Int = 40) -> Data? {
        FileManager.default.contents(atPath: out + "/checkpoints/" + Checkpoint.name(step: step) + "/" + name)
    }

    @Test func everyKnobTrainsTheSameBytesAtOneTwoAndFourRanks() throws {
        var runs: [String] = []
        for ranks in [1, 2, 4] {
            let out = temporaryDirectory().path
            let outcome = try mpirunTrain(ranks: ranks, knobs + ["--out", out])
            #expect(outcome.status == 0, "\(ranks) ranks: \(outcome.stderr)")
            #expect(outcome.stdout.contains("kl weight") && outcome.stdout.contains("validation loss"), "\(outcome.stdout)")
            runs.append(out)
        }
        for name in [Checkpoint.modelFile, Checkpoint.averageFile, Checkpoint.optimizerFile] {
            #expect(file(runs[0], name) != nil && runs.allSatisfy { file($0, name) == file(runs[0], name) }, "\(name) differs between rank counts")
        }
        let validation = try runs.map { out in try metricsRecords(in: out).compactMap { $0["val_loss"] as? Double } }
        #expect(validation[0].count == 2 && validation.allSatisfy { $0 == validation[0] }, "\(validation)")
        let best = try runs.map { try FileManager.default.destinationOfSymbolicLink(atPath: $0 + "/checkpoints/best") }
        #expect(best.allSatisfy { $0 == best[0] } && best[0].hasPrefix("best-step-"))
        #expect(runs.allSatisfy { (try? FileManager.default.contentsOfDirectory(atPath: $0 + "/tensorboard"))?.first?.hasPrefix("events.out.tfevents.") == true })
    }

    @Test func compressedRanksHoldTheSameWeightsEveryStepWithEveryKnob() throws {
        for ranks in [2, 4] {
            let outcome = try mpirunTrain(ranks: ranks, knobs + ["--out", temporaryDirectory().path, "--set", "allreduce.compression=bf16",
                                                                 "--set", "watchdog.check_every_steps=1"])
            #expect(outcome.status == 0, "\(ranks) ranks: \(outcome.stderr)")
        }
    }

    @Test(.enabled(if: tensorBoardPython != nil, "needs TensorBoard's reader: launch/install-packages.sh --test"))
    func tensorBoardsReaderFindsTheMetricsAndPicturesAndNoStepTwice() throws {
        let out = temporaryDirectory().path
        // One epoch, then a second resumed from step 15: the first segment's steps 16 to 20 are orphaned.
        let first = try mpirunTrain(ranks: 2, knobs + ["--out", out, "--set", "training.epochs=1", "--set", "training.log_every_steps=1",
                                                       "--set", "checkpoint.every_steps=5"])
        #expect(first.status == 0, "\(first.stderr)")
        let second = try mpirunTrain(ranks: 2, knobs + ["--out", out, "--set", "training.log_every_steps=1", "--set", "checkpoint.every_steps=5",
                                                        "--resume", out + "/checkpoints/" + Checkpoint.name(step: 15)])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: out + "/tensorboard").count == 2, "a file per run segment")

        let read = try runProcess([tensorBoardPython!, packageRoot.appendingPathComponent("launch/testing/read-tensorboard.py").path, out + "/tensorboard"])
        #expect(read.status == 0, "\(read.stderr)")
        let events = try #require(try JSONSerialization.jsonObject(with: Data(read.stdout.utf8)) as? [String: [String: [[Any]]]])
        let scalars = try #require(events["scalars"]), images = try #require(events["images"])
        for (tag, points) in scalars {
            let steps = points.compactMap { $0[0] as? Int }
            #expect(Set(steps).count == steps.count, "\(tag) holds a step twice: \(steps)")
        }
        // Every number of the records the run stands by: the second segment's from step 16, the first's before.
        let records = try metricsRecords(in: out)
        let resumedAt = try #require(records.lastIndex { ($0["step"] as? Int) == 16 && $0["kind"] as? String == "interval" })
        let kept = records.enumerated().filter { index, record in index >= resumedAt || (record["step"] as? Int ?? 0) <= 15 }.map(\.element)
        var compared = 0
        for record in kept {
            let kind = try #require(record["kind"] as? String), step = try #require(record["step"] as? Int)
            for (key, value) in record where !["kind", "step", "epoch"].contains(key) {
                guard let number = value as? Double else { continue }
                let point = scalars[kind + "/" + key]?.first { $0[0] as? Int == step }
                #expect((point?[1] as? Double).map { Float($0) == Float(number) } == true, "\(kind)/\(key) at step \(step): \(String(describing: point)) against \(number)")
                compared += 1
            }
        }
        #expect(compared > 40 * 8 && scalars["interval/grad_norm"] != nil && scalars["epoch/val_loss"] != nil && scalars["interval/kl_weight"] != nil)
        // Each picture of the last sample point, as its PNG file holds it.
        let samples = out + "/samples/epoch-0002"
        for name in try FileManager.default.contentsOfDirectory(atPath: samples) {
            let png = try Data(contentsOf: URL(fileURLWithPath: samples + "/" + name))
            let digest = SHA256.hash(data: png).map { String(format: "%02x", $0) }.joined()
            let stored = images["samples/" + (name as NSString).deletingPathExtension]?.first { $0[0] as? Int == 40 }
            #expect(stored?[3] as? String == digest, "\(name)")
            #expect(stored?[1] as? Int == pngSize(samples + "/" + name)?.width && stored?[2] as? Int == pngSize(samples + "/" + name)?.height)
        }
    }
}
