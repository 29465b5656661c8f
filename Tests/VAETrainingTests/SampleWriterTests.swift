// What rank 0 leaves beside a run: sample images at the chosen epochs and at the end, of the expected sizes
// (only prior and reconstructions when z_dim is not 2), a self-contained report.html, and metrics.jsonl
// lines that parse, with steps that increase.

import Foundation
import TestSupport
import Testing
import VAEConfig
import VAETraining

@Suite struct SampleWriterTests {
    let directory = temporaryDirectory()

    func run(epochs: Int, everyEpochs: Int, zDim: Int = 2) throws -> String {
        var config = TrainingConfig()
        let test = smallTestSet(in: directory)
        (config.data.test, config.data.testLabels) = (test.images, test.labels)
        config.data.limit = 64
        config.training.epochs = epochs
        config.training.logEverySteps = 1
        config.model.zDim = zDim
        config.samples.everyEpochs = everyEpochs
        config.output.directory = directory.appendingPathComponent("run-\(zDim)").path
        var lines: [String] = []
        try Trainer(config: config).run(log: { lines.append($0) })
        #expect(lines.contains { $0.hasPrefix("samples \(config.output.directory)/samples/epoch-") })
        return config.output.directory
    }

    @Test func samplesAtTheChosenEpochsAndTheEndWithTheExpectedSizes() throws {
        let out = try run(epochs: 3, everyEpochs: 2)
        let samples = try FileManager.default.contentsOfDirectory(atPath: out + "/samples").sorted()
        #expect(samples == ["epoch-0002", "epoch-0003"])
        let expected = ["prior.png": (302, 302), "reconstructions.png": (302, 62), "latent.png": (640, 640), "manifold.png": (420, 420)]
        for epoch in samples {
            #expect(Set(try FileManager.default.contentsOfDirectory(atPath: "\(out)/samples/\(epoch)")) == Set(expected.keys))
            for (name, size) in expected {
                let found = pngSize("\(out)/samples/\(epoch)/\(name)")
                #expect(found?.width == size.0 && found?.height == size.1, "\(epoch)/\(name): \(String(describing: found))")
            }
        }
        let report = try String(contentsOfFile: out + "/report.html", encoding: .utf8)
        #expect(report.components(separatedBy: "<svg").count - 1 == 3)
        #expect(report.components(separatedBy: "src=\"data:image/png;base64,").count - 1 == 4)
        #expect(report.contains("Samples: epoch-0003") && report.contains("Epoch 3 of 3 done, step 6 (2 per epoch)"))
        #expect(!report.contains("src=\"samples/"), "the newest images are inlined, not linked")
    }

    @Test func metricsLinesParseAndTheirStepsIncrease() throws {
        let out = try run(epochs: 2, everyEpochs: 1)
        let records = try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        for kind in ["interval", "epoch"] {
            let steps = records.filter { $0["kind"] as? String == kind }.compactMap { $0["step"] as? Int }
            #expect(steps == (kind == "interval" ? [1, 2, 3, 4] : [2, 4]), "\(kind) steps \(steps)")
        }
        let keys: Set = ["kind", "step", "epoch", "loss", "reconstruction", "kl", "learning_rate", "images_per_s", "allreduce_ms", "wall_s"]
        #expect(records.allSatisfy { keys.isSubset(of: $0.keys) })
    }

    @Test func onlyPriorAndReconstructionsWhenTheLatentSpaceIsNotAPlane() throws {
        let out = try run(epochs: 1, everyEpochs: 0, zDim: 3)
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: out + "/samples/epoch-0001")) == ["prior.png", "reconstructions.png"])
    }
}
