// The `vae` executable as a user meets it: bad input gives one line on stderr and exit status 2, never a
// trap or a stack trace; a tiny real run succeeds.

import Foundation
import TestSupport
import Testing

@Suite struct CommandLineTests {
    let directory = temporaryDirectory()
    let config = defaultConfig

    /// Exit status 2 for bad input, 64 for a wrong command line.
    func expectOneLineError(_ arguments: [String], mentioning fragments: [String], status: Int32 = 2,
                            sourceLocation: SourceLocation = #_sourceLocation) throws {
        let outcome = try runVAE(arguments)
        #expect(outcome.status == status, "exit status \(outcome.status), stderr: \(outcome.stderr)", sourceLocation: sourceLocation)
        let lines = outcome.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("error: "), "stderr: \(outcome.stderr)", sourceLocation: sourceLocation)
        for fragment in fragments {
            #expect(outcome.stderr.contains(fragment), "stderr lacks \(fragment): \(outcome.stderr)", sourceLocation: sourceLocation)
        }
    }

    @Test func configErrors() throws {
        try expectOneLineError(["train", "--config", "missing.yaml"], mentioning: ["missing.yaml"])
        try expectOneLineError(["train", "--config", config, "--set", "model.z_dim=-3"], mentioning: ["model.z_dim"])
        try expectOneLineError(["train", "--config", config, "--set", "training.optimiser=sgd"], mentioning: ["training.optimiser", "unknown key"])
    }

    @Test func dataErrors() throws {
        let missing = directory.appendingPathComponent("gone.gz").path
        try expectOneLineError(["train", "--config", config, "--set", "data.train=\(missing)"], mentioning: [missing])
        let truncated = write(Array(imageFile(count: 64).encoded.dropLast(100)), to: directory.appendingPathComponent("cut"))
        try expectOneLineError(["train", "--config", config, "--set", "data.train=\(truncated)"], mentioning: [truncated, "truncated"])
        let text = write(Array("not images".utf8), to: directory.appendingPathComponent("text.idx"))
        try expectOneLineError(["train", "--config", config, "--set", "data.train=\(text)"], mentioning: [text, "not an IDX file"])
    }

    /// A checkpoint of the digits model is about 2.5 MB: the second does not fit in 4 MB.
    @Test(mountingNeedsRoot)
    func aFullDiskStopsTheRunAndKeepsThePreviousCheckpoint() throws {
        let out = temporaryDirectory().path
        #expect(try runProcess(["/bin/mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", out]).status == 0)
        defer { _ = try? runProcess(["/bin/umount", out]) }
        try expectOneLineError(["train", "--config", config, "--set", "data.limit=640", "--set", "training.epochs=1",
                                "--set", "checkpoint.every_steps=5", "--set", "checkpoint.keep=1", "--set", "samples.every_epochs=0",
                                "--out", out], mentioning: [out + "/checkpoints/.tmp-step-00000010", "No space left on device"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: out + "/checkpoints").sorted() == ["latest", "step-00000005"])
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: out + "/checkpoints/latest") == "step-00000005")
    }

    @Test func usageErrors() throws {
        try expectOneLineError(["train", "--config", config, "--no-such-option"], mentioning: ["--no-such-option"], status: 64)
        try expectOneLineError(["bench", "--steps", "0"], mentioning: ["--steps 0"], status: 64)
        try expectOneLineError(["bench-allreduce", "--timeout-s=-1"], mentioning: ["--timeout-s -1"], status: 64)
        try expectOneLineError(["bench-allreduce", "--algorithm", "auto"], mentioning: ["--algorithm auto"], status: 64)
        try expectOneLineError(["sample", "--out", "x.png"], mentioning: ["--checkpoint"], status: 64)
    }

    @Test func tinyRunPrintsEpochLines() throws {
        let outcome = try runVAE(["train", "--config", config, "--set", "data.limit=128", "--set", "training.epochs=2",
                                  "--out", directory.path])
        #expect(outcome.status == 0, "stderr: \(outcome.stderr)")
        let epochs = outcome.stdout.split(separator: "\n").filter { $0.hasPrefix("epoch ") }
        #expect(epochs.count == 2)
        for field in ["loss", "reconstruction", "kl", "images/s", "time"] { #expect(epochs[0].contains(field)) }
        // Resuming with fewer epochs than the checkpoint has done is an error, not a trap.
        try expectOneLineError(["train", "--config", config, "--set", "data.limit=128", "--set", "training.epochs=1",
                                "--out", directory.path, "--resume"], mentioning: ["step 8", "past this run's last step 4", "training.epochs"])
    }

    /// What a supervisor restarting a job relies on: `--resume` alone before the first checkpoint starts the run
    /// from the beginning with one warning, and ends with the bytes of a run started without it. A PATH that
    /// is not there is still refused.
    @Test func resumeWithNothingToResumeStartsFromTheBeginning() throws {
        let run = ["train", "--config", config, "--set", "data.limit=64", "--set", "training.epochs=1", "--set", "samples.every_epochs=0"]
        let plain = directory.appendingPathComponent("plain").path, resumed = directory.appendingPathComponent("resumed").path
        #expect(try runVAE(run + ["--out", plain]).status == 0)
        let outcome = try runVAE(run + ["--out", resumed, "--resume"])
        #expect(outcome.status == 0, "stderr: \(outcome.stderr)")
        #expect(outcome.stdout.contains("warning: --resume: no checkpoint in \(resumed)/checkpoints yet; starting from the beginning"),
                "\(outcome.stdout)")
        let weights = { (out: String) in FileManager.default.contents(atPath: out + "/checkpoints/step-00000002/model.safetensors") }
        #expect(weights(resumed) != nil && weights(resumed) == weights(plain))
        try expectOneLineError(run + ["--out", resumed, "--resume", plain + "/checkpoints/step-00000099"],
                               mentioning: [plain + "/checkpoints/step-00000099"])
        try expectOneLineError(run + ["--out", resumed, "--set", "checkpoint.replicas=2"], mentioning: ["checkpoint.replica_dir", "2 replicas"])
    }

    /// `vae bench --synthetic` times the faces config with no image folder anywhere (its data.train,
    /// data/celeb/img_align_celeba, is not read) and prints the usual JSON line, with the math threads
    /// OPENBLAS_NUM_THREADS chose.
    @Test func benchOnSyntheticImagesNeedsNoData() throws {
        let faces = packageRoot.appendingPathComponent("configs/faces.yaml").path
        let outcome = try runProcess([vaeBinary, "bench", "--config", faces, "--synthetic", "--steps", "2", "--warmup", "1",
                                      "--batch-per-rank", "8", "--set", "data.train=\(directory.path)/no-such-folder"],
                                     environment: ["OPENBLAS_NUM_THREADS": "3"])
        #expect(outcome.status == 0, "stderr: \(outcome.stderr)")
        let line = try #require(outcome.stdout.split(separator: "\n").last { $0.hasPrefix("{") }, "stdout: \(outcome.stdout)")
        let result = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(result["data"] as? String == "synthetic")
        #expect(result["z_dim"] as? Int == 200 && result["batch_per_rank"] as? Int == 8 && result["steps"] as? Int == 2)
        #expect(result["threads_per_rank"] as? Int == 3, "\(line)")
        #expect((result["images_per_s"] as? Double ?? 0) > 0, "\(line)")
        try expectOneLineError(["bench", "--synthetic", "--in-memory"], mentioning: ["--synthetic", "--in-memory"], status: 64)
    }

    /// `--link-gbit` adds the cost model's lines after the measurement: its own rank count beside the
    /// measured step, then each node count asked for, slower on a slower link and never faster than compute.
    @Test func benchPredictsTheStepOnNodesAndLinks() throws {
        let bench = ["bench", "--synthetic", "--steps", "2", "--warmup", "0", "--batch-per-rank", "8"]
        let outcome = try runVAE(bench + ["--link-gbit", "1,10", "--predict-nodes", "1,8"])
        #expect(outcome.status == 0, "stderr: \(outcome.stderr)")
        let lines = try outcome.stdout.split(separator: "\n").filter { $0.hasPrefix("{") }
            .map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        let predictions = lines.filter { $0["prediction"] as? String == "alpha-beta" }
        #expect(lines.count == 5 && predictions.count == 4, "\(outcome.stdout)")
        func step(_ nodes: Int, _ gigabits: Double) -> Double {
            predictions.first { $0["nodes"] as? Int == nodes && $0["link_gbit"] as? Double == gigabits }?["step_ms"] as? Double ?? -1
        }
        #expect(step(8, 1) > step(8, 10) && step(8, 10) > step(1, 10) && step(1, 1) == step(1, 10))
        #expect(predictions.filter { $0["measured_step_ms"] != nil }.map { $0["nodes"] as? Int } == [1, 1])
        try expectOneLineError(bench + ["--predict-nodes", "8"], mentioning: ["--predict-nodes needs --link-gbit"], status: 64)
        try expectOneLineError(bench + ["--link-gbit", "fast"], mentioning: ["--link-gbit fast"], status: 64)
    }
}
