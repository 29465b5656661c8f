// What rank 0 leaves beside a run: sample images at the chosen epochs and at the end, of the expected sizes
// (latent histograms instead of the scatter and manifold when z_dim is not 2, RGB for colour images; none,
// but a warning, from weights that are not finite), a self-contained report.html, and metrics.jsonl lines
// that parse, with steps that increase, their keys, and null for numbers that are not finite.

import Foundation
import TestSupport
import Testing
import VAEConfig
import VAEMath
import VAEReport
import VAESupport
@testable import VAETraining

@Suite struct SampleWriterTests {
    let directory = temporaryDirectory()

    func run(epochs: Int, everyEpochs: Int) throws -> String {
        var config = TrainingConfig()
        let test = smallTestSet(in: directory)
        (config.data.test, config.data.testLabels) = (test.images, test.labels)
        config.data.limit = 64
        config.training.epochs = epochs
        config.training.logEverySteps = 1
        config.samples.everyEpochs = everyEpochs
        config.output.directory = directory.appendingPathComponent("run").path
        var lines: [String] = []
        let trainer = try Trainer(config: config)
        trainer.pictures = SampleWriter.drawing(config: config, stepsPerEpoch: trainer.sampler.stepsPerEpoch)
        try trainer.run(log: { lines.append($0) })
        #expect(lines.contains { $0.hasPrefix("samples \(config.output.directory)/samples/epoch-") })
        return config.output.directory
    }

    @Test func samplesAtTheChosenEpochsAndTheEndWithTheExpectedSizes() throws {
        let out = try run(epochs: 3, everyEpochs: 2)
        let samples = try FileManager.default.contentsOfDirectory(atPath: out + "/samples").sorted()
        #expect(samples == ["epoch-0002", "epoch-0003"])
        // Width, height and PNG colour type: the digits' pictures are grey (0), the scatter RGB (2).
        let expected = ["prior.png": [302, 302, 0], "reconstructions.png": [302, 62, 0], "latent.png": [640, 640, 2], "manifold.png": [420, 420, 0]]
        for epoch in samples {
            #expect(Set(try FileManager.default.contentsOfDirectory(atPath: "\(out)/samples/\(epoch)")) == Set(expected.keys))
            for (name, size) in expected {
                let png = try decodePNG(file: "\(out)/samples/\(epoch)/\(name)")
                #expect([png.width, png.height, png.colourType] == size, "\(epoch)/\(name)")
            }
        }
        let report = try String(contentsOfFile: out + "/report.html", encoding: .utf8)
        #expect(report.components(separatedBy: "<svg").count - 1 == 3)
        #expect(report.components(separatedBy: "src=\"data:image/png;base64,").count - 1 == 4)
        #expect(report.contains("Samples: epoch-0003") && report.contains("Epoch 3 of 3 done, step 6 (2 per epoch)"))
        #expect(!report.contains("src=\"samples/"), "the newest images are inlined, not linked")
        #expect(report.contains("latent.png: encoder means of the first 40 test images, coloured by label</figcaption>"))
        // The resolved config, as YAML that reads back to the run's settings.
        let pre = try #require(report.range(of: "<pre>").flatMap { start in report.range(of: "</pre>").map { report[start.upperBound..<$0.lowerBound] } })
        let yaml = pre.replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&lt;", with: "<")
            .replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&amp;", with: "&")
        let shown = try TrainingConfig.parse(yaml: Data(yaml.utf8), source: "report.html")
        #expect(shown.output.directory == out && shown.training.epochs == 3 && shown.samples.everyEpochs == 2)
    }

    @Test func weightsThatAreNotFiniteDrawNoPicturesButAWarning() throws {
        var config = TrainingConfig()
        (config.data.test, config.data.testLabels) = smallTestSet(in: directory)
        config.data.limit = 64
        config.output.directory = directory.appendingPathComponent("run").path
        let trainer = try Trainer(config: config), p = trainer.model.parameters
        let decoder = try #require(p.entry(named: "decoder_conv_t_0.kernel"))
        p.pointer(decoder.slot)[3] = .nan
        var warnings: [String] = []
        let written = try SampleWriter(config: config, model: trainer.model, stepsPerEpoch: 2).write(afterEpoch: 1) { warnings.append($0) }
        #expect(written == nil && warnings == ["warning: no samples after epoch 1: tensor decoder_conv_t_0.kernel holds NaN or infinite values"])
        #expect(!FileManager.default.fileExists(atPath: config.output.directory + "/samples"))
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
        #expect(records.allSatisfy { ($0["kind"] as? String == "epoch") == ($0["epoch_s"] != nil) }, "epoch_s in epoch records only")
    }

    @Test func metricsKeepTheirKeysAndWriteNumbersThatAreNotFiniteAsNull() throws {
        let log = try MetricsLog(directory: directory.path)
        log.recordInterval(step: 3, epoch: 0, loss: LossSums(reconstruction: .nan, kl: 2, samples: 4), learningRate: 0.0005,
                           seconds: 2, allreduceMilliseconds: 0.5)
        log.record(EpochReport(epoch: 0, steps: 3, skippedSteps: 1, loss: LossSums(reconstruction: 8, kl: .infinity, samples: 4), klWeight: 1,
                               validation: nil, learningRate: 0.0005,
                               seconds: 1.5, allreduceMilliseconds: nil, saveWaitSeconds: 0.25), step: 3)
        let lines = try String(contentsOfFile: log.path, encoding: .utf8).split(separator: "\n")
        let objects = try lines.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        let keys: Set = ["kind", "step", "epoch", "loss", "reconstruction", "kl", "kl_weight", "learning_rate", "images_per_s", "allreduce_ms", "wall_s"]
        try #require(objects.count == 2)
        #expect(Set(objects[0].keys) == keys && Set(objects[1].keys) == keys.union(["epoch_s", "skipped_steps", "save_wait_s"]))
        #expect(objects[0]["kind"] as? String == "interval" && objects[0]["step"] as? Int == 3 && objects[0]["epoch"] as? Int == 1)
        #expect(objects[0]["loss"] is NSNull && objects[0]["reconstruction"] is NSNull && objects[0]["kl"] as? Double == 0.5)
        #expect(objects[0]["images_per_s"] as? Double == 2 && objects[0]["allreduce_ms"] as? Double == 0.5)
        #expect(lines[0].contains("\"learning_rate\":0.0005,"), "the Float as written: \(lines[0])")
        #expect(objects[1]["kind"] as? String == "epoch" && objects[1]["reconstruction"] as? Double == 2 && objects[1]["kl"] is NSNull)
        #expect(objects[1]["allreduce_ms"] as? Double == 0 && objects[1]["epoch_s"] as? Double == 1.5 && objects[1]["skipped_steps"] as? Int == 1)
        #expect(objects[1]["save_wait_s"] as? Double == 0.25)

        // What RunReport reads back: null as NaN, and epoch_s and skipped_steps only for epochs.
        let records = try lines.map { try JSON.decode(MetricsRecord.self, from: Data($0.utf8)) }
        #expect(records.map(\.kind) == [.interval, .epoch] && records[0].loss.isNaN && records[0].kl == 0.5 && records[1].kl.isNaN)
        #expect(records[0].epochSeconds == nil && records[1].epochSeconds == 1.5 && records[1].learningRate == 0.0005)
        #expect(records[0].skippedSteps == nil && records[1].skippedSteps == 1)
        #expect(records[0].saveWaitSeconds == nil && records[1].saveWaitSeconds == 0.25)

        // Resuming appends; a fresh log starts an empty file.
        try MetricsLog(directory: directory.path, appending: true).recordInterval(step: 4, epoch: 1, loss: LossSums(), learningRate: 1,
                                                                                  seconds: 1, allreduceMilliseconds: 0)
        #expect(try String(contentsOfFile: log.path, encoding: .utf8).split(separator: "\n").count == 3)
        _ = try MetricsLog(directory: directory.path)
        #expect(try String(contentsOfFile: log.path, encoding: .utf8).isEmpty)
    }

    @Test func colourRunsDrawInColourWithLatentHistogramsInsteadOfAPlane() throws {
        let samples = rgbRun.out + "/samples/epoch-0001"
        let sizes = ["prior.png": (182, 182), "reconstructions.png": (182, 38), "latent-histograms.png": (2 * 12 + 7 * 116 + 97, 28 + 94)]
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: samples)) == Set(sizes.keys))
        for (name, size) in sizes {
            let png = try decodePNG(file: samples + "/" + name)
            #expect(png.colourType == 2 && png.width == size.0 && png.height == size.1, "\(name): \(png.width)×\(png.height), colour type \(png.colourType)")
        }
        // The test set starts with a pure red and a pure green image: the first two originals of the top row.
        let reconstructions = try decodePNG(file: samples + "/reconstructions.png")
        #expect(reconstructions.pixel(x: 2, y: 2) == [255, 0, 0] && reconstructions.pixel(x: 17, y: 17) == [255, 0, 0])
        #expect(reconstructions.pixel(x: 20, y: 2) == [0, 255, 0] && reconstructions.pixel(x: 0, y: 0) == [255, 255, 255])
        let prior = try decodePNG(file: samples + "/prior.png")
        #expect(stride(from: 0, to: prior.pixels.count, by: 3).contains { prior.pixels[$0] != prior.pixels[$0 + 1] }, "decoded in colour")

        let report = try String(contentsOfFile: rgbRun.out + "/report.html", encoding: .utf8)
        #expect(report.components(separatedBy: "src=\"data:image/png;base64,").count - 1 == 3)
        #expect(report.contains("latent-histograms.png: encoder means of the first 64 test images in each of the first 8 dimensions"))
        #expect(!report.contains("latent.png") && !report.contains("manifold.png"))
    }
}
