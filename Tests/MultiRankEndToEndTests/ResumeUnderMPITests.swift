// Checkpoints under a real `mpirun`: SIGTERM mid-run leaves a complete checkpoint and a clean exit; resuming
// from it at 2 ranks, or at 1 or 4, ends with the same weights, byte for byte, as a run never interrupted.

import Foundation
import TestSupport
import Testing

@Suite(.serialized) struct ResumeUnderMPITests {
    /// 3 epochs of 50 steps on 1,600 real images.
    let run = ["--set", "data.limit=1600", "--set", "training.epochs=3", "--set", "checkpoint.keep=10"]

    func finalWeights(_ out: String) -> Data? { FileManager.default.contents(atPath: out + "/checkpoints/step-00000150/model.safetensors") }

    @Test func sigtermThenResumeAtOneTwoAndFourRanksMatchesAStraightRun() throws {
        let straight = temporaryDirectory().path
        #expect(try mpirunTrain(ranks: 2, run + ["--out", straight]).status == 0)

        let stopped = temporaryDirectory().path
        let job = try startJob(["mpirun", "-np", "2", "--oversubscribe", "--bind-to", "none", vaeBinary, "train",
                                "--config", defaultConfig, "--out", stopped] + run)
        // Signal the ranks themselves, as Slurm does, once the first checkpoint shows training is under way.
        try waitFor(stopped + "/checkpoints/step-00000050", limit: 120)
        let ranks = rankProcesses(writingTo: stopped)
        #expect(ranks.count == 2)
        for rank in ranks { kill(rank, SIGTERM) }
        let outcome = job.finish()
        #expect(outcome.stdout.contains("stopped by signal 15"), "\(outcome.stdout) \(outcome.stderr)")
        let checkpoints = try FileManager.default.contentsOfDirectory(atPath: stopped + "/checkpoints").filter { $0.hasPrefix("step-") }.sorted()
        let interrupted = try #require(checkpoints.last)
        #expect(interrupted > "step-00000050" && interrupted < "step-00000150", "\(checkpoints)")

        for ranks in [2, 1, 4] {
            let resumed = temporaryDirectory().path
            try FileManager.default.createDirectory(atPath: resumed + "/checkpoints", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: stopped + "/checkpoints/" + interrupted, toPath: resumed + "/checkpoints/" + interrupted)
            let outcome = try mpirunTrain(ranks: ranks, run + ["--out", resumed, "--resume"])
            #expect(outcome.status == 0, "\(ranks) ranks: \(outcome.stderr)")
            #expect(outcome.stdout.contains("resuming from"))
            #expect(finalWeights(resumed) != nil && finalWeights(resumed) == finalWeights(straight), "resumed at \(ranks) ranks")
        }
    }

    @Test func aCorruptNewestCheckpointFallsBackWithAWarning() throws {
        let out = temporaryDirectory().path
        #expect(try mpirunTrain(ranks: 2, ["--set", "data.limit=640", "--set", "training.epochs=2", "--out", out]).status == 0)
        let newest = out + "/checkpoints/step-00000040/optimizer.safetensors"
        try Data(FileManager.default.contents(atPath: newest)!.prefix(1000)).write(to: URL(fileURLWithPath: newest))
        let explicit = try mpirunTrain(ranks: 2, ["--set", "data.limit=640", "--set", "training.epochs=3", "--out", out,
                                                  "--resume", out + "/checkpoints/step-00000040"])
        #expect(explicit.status != 0 && explicit.stderr.contains("\(newest): checksum mismatch"), "\(explicit.stderr)")
        let outcome = try mpirunTrain(ranks: 2, ["--set", "data.limit=640", "--set", "training.epochs=3", "--out", out, "--resume"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stderr.contains("warning: skipping checkpoint \(out)/checkpoints/step-00000040"), "\(outcome.stderr)")
        #expect(outcome.stdout.contains("resuming from \(out)/checkpoints/step-00000020 at step 20"))
    }
}
