// Under mpirun, rank 0 alone writes files and prints: rank 1 runs in an empty directory of its own with a
// relative --out and --trace, and that directory stays empty, while rank 0's output holds the whole expected
// set, the trace of both ranks included.

import Foundation
import TestSupport
import Testing

@Suite struct RankZeroFilesTests {
    @Test func rankOneCreatesNoFileAndPrintsNothing() throws {
        let out = temporaryDirectory().path, rankOne = temporaryDirectory().path
        let train = [vaeBinary, "train", "--config", defaultConfig, "--set", "data.limit=320", "--set", "training.epochs=1",
                     "--set", "training.log_every_steps=2"]
        let outcome = try runJob(["mpirun", "--oversubscribe", "--bind-to", "none", "--tag-output", "-np", "1"] + train
                                 + ["--out", out, "--trace", out + "/trace.json"]
                                 + [":", "-np", "1", "sh", "-c", "cd \"$0\" && exec \"$@\"", rankOne] + train + ["--out", "run", "--trace", "trace.json"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("[1,0]<stdout>:samples \(out)/samples/epoch-0001"), "\(outcome.stdout)")
        #expect(!outcome.stdout.contains("[1,1]") && !outcome.stderr.contains("[1,1]"), "rank 1 printed: \(outcome.stdout) \(outcome.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: rankOne).isEmpty)
        let checkpoint = "checkpoints/step-00000010"
        let expected = ["checkpoints", "checkpoints/latest", checkpoint, "\(checkpoint)/model.safetensors", "\(checkpoint)/optimizer.safetensors",
                        "\(checkpoint)/state.json", "metrics.jsonl", "report.html", "samples", "samples/epoch-0001", "trace.json"]
            + ["latent", "manifold", "prior", "reconstructions"].map { "samples/epoch-0001/\($0).png" } + ["tensorboard"]
        let written = FileManager.default.subpaths(atPath: out)?.sorted() ?? []
        #expect(written.filter { !$0.hasPrefix("tensorboard/") } == expected.sorted())
        #expect(written.filter { $0.hasPrefix("tensorboard/") }.map { $0.hasPrefix("tensorboard/events.out.tfevents.") } == [true], "one event file")
    }
}
