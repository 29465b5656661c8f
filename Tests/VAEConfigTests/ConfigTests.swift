// Config loading: the shipped file is the book's run; unknown keys, wrong types and impossible values are
// errors naming the key path; --set overrides reach any key; old keys are read with a warning; the written
// YAML, state.json and docs/config.md come from the same declarations and read back.

import Foundation
import TestSupport
import Testing
@testable import VAECheckpoint
import VAEConfig
import VAEMath
import VAESupport
import VAETraining

@Suite struct ConfigTests {
    let directory = temporaryDirectory()

    func load(_ yaml: String, _ overrides: [String] = []) throws -> TrainingConfig {
        let path = directory.appendingPathComponent("config-\(UUID().uuidString).yaml")
        try yaml.write(to: path, atomically: true, encoding: .utf8)
        return try TrainingConfig.load(path: path.path, overrides: overrides)
    }

    @Test func shippedConfigIsTheBooksDigitsRun() throws {
        let config = try TrainingConfig.load(path: defaultConfig)
        #expect(config.architecture == .gdlDigits)
        #expect(config.training.batchSize == 32 && config.learningRate.base == 0.0005)
        #expect(config.loss.rLossFactor == 1000 && config.training.epochs == 200)
        #expect(config.data.classNames.count == 10 && config.data.classNames[9] == "Ankle boot")
        var unnamed = config
        unnamed.data.classNames = []
        #expect(unnamed == TrainingConfig(), "the file names the classes and leaves every other setting at its default")
    }

    @Test func overridesReachNestedKeysAndLists() throws {
        let config = try load("training:\n  epochs: 3\n", ["training.epochs=5", "model.z_dim=4", "model.encoder.strides=[2, 2, 1, 1]",
                                                          "output.dir=/tmp/x"])
        #expect(config.training.epochs == 5 && config.model.zDim == 4 && config.output.directory == "/tmp/x")
        #expect(config.architecture.encoder.map(\.stride) == [2, 2, 1, 1])
    }

    @Test func samplesAndTestLabels() throws {
        let config = try load("samples:\n  every_epochs: 5\ndata:\n  test_labels: /x/labels\n")
        #expect(config.samples.everyEpochs == 5 && config.data.testLabels == "/x/labels")
        let defaults = TrainingConfig()
        #expect(defaults.samples.everyEpochs == 1 && defaults.training.logEverySteps == 500)
        #expect(defaults.data.testLabels == "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz")
        #expect(try load("", ["samples.every_epochs=0"]).samples.everyEpochs == 0)
        #expect(expectVAEError("samples.every_epochs", "only at the end") { _ = try load("samples:\n  every_epochs: -1\n") } == nil)
        #expect(expectVAEError("samples.every", "unknown key") { _ = try load("", ["samples.every=2"]) } == nil)
    }

    @Test func allreduceSettings() throws {
        let config = try load("allreduce:\n  overlap: false\n  bucket_kb: 64\n")
        #expect(!config.allreduce.overlap && config.allreduce.bucketKB == 64)
        #expect(TrainingConfig().allreduce.overlap && TrainingConfig().allreduce.bucketKB == 64)
        #expect(expectVAEError("allreduce.bucket_kb", "a positive integer") { _ = try load("", ["allreduce.bucket_kb=0"]) } == nil)
        #expect(expectVAEError("allreduce.overlap", "true or false") { _ = try load("", ["allreduce.overlap=sometimes"]) } == nil)
        #expect(TrainingConfig().allreduce.compression == .none)
        #expect(try load("", ["allreduce.compression=bf16"]).allreduce.compression == .bf16)
        #expect(expectVAEError("allreduce.compression", "one of none, bf16, fp16", "'int8'") { _ = try load("", ["allreduce.compression=int8"]) } == nil)
        var compressed = TrainingConfig()
        compressed.allreduce.compression = .fp16
        #expect(compressed.trajectorySettings != TrainingConfig().trajectorySettings, "ranks compare it: it changes the bits")
    }

    @Test func nonfiniteStepsAndTheWatchdog() throws {
        let defaults = TrainingConfig()
        #expect(defaults.training.onNonfinite == .stop && defaults.training.maxSkippedSteps == 100 && defaults.watchdog.checkEverySteps == 1000)
        let config = try load("training:\n  on_nonfinite: skip\n  max_skipped_steps: 0\nwatchdog:\n  check_every_steps: 0\n")
        #expect(config.training.onNonfinite == .skip && config.training.maxSkippedSteps == 0 && config.watchdog.checkEverySteps == 0)
        #expect(expectVAEError("training.on_nonfinite", "one of stop, skip", "'ignore'") { _ = try load("", ["training.on_nonfinite=ignore"]) } == nil)
        #expect(expectVAEError("training.max_skipped_steps", "non-negative") { _ = try load("", ["training.max_skipped_steps=-1"]) } == nil)
        #expect(expectVAEError("watchdog.check_every_steps", "0 (off)") { _ = try load("", ["watchdog.check_every_steps=-5"]) } == nil)
        #expect(expectVAEError("watchdog.every", "unknown key") { _ = try load("", ["watchdog.every=5"]) } == nil)
    }

    @Test func theLearningRateSettingsSitInOneSection() throws {
        #expect(TrainingConfig().learningRate.warmupSteps == 0)
        let config = try load("learning_rate:\n  base: 0.002\n  warmup_steps: 16\n")
        #expect(config.learningRate.warmupSteps == 16 && config.learningRates.learningRate(step: 3, epoch: 0) == Float(0.002) * 4 / 16)
        #expect(expectVAEError("learning_rate.warmup_steps", "0 (off)") { _ = try load("", ["learning_rate.warmup_steps=-1"]) } == nil)
        #expect(expectVAEError("learning_rate.base", "positive") { _ = try load("", ["learning_rate.base=-1"]) } == nil)
        #expect(expectVAEError("learning_rate.warmup", "unknown key") { _ = try load("", ["learning_rate.warmup=5"]) } == nil)
    }

    /// The old keys are read for one release, each with a warning; given with its new key, one is an error.
    @Test func theOldLearningRateKeysAreReadWithAWarning() throws {
        var warnings: [String] = []
        let path = directory.appendingPathComponent("old.yaml")
        try "training:\n  learning_rate: 0.002\n  lr_decay: 0.5\n  lr_step_size: 3\nschedule:\n  warmup_steps: 8\n".write(to: path, atomically: true, encoding: .utf8)
        let config = try TrainingConfig.load(path: path.path, warn: { warnings.append($0) })
        #expect(config.learningRate.base == 0.002 && config.learningRate.decay == 0.5)
        #expect(config.learningRate.decayEveryEpochs == 3 && config.learningRate.warmupSteps == 8)
        #expect(warnings == ["warning: training.learning_rate is now learning_rate.base; this release still reads the old key",
                             "warning: training.lr_decay is now learning_rate.decay; this release still reads the old key",
                             "warning: training.lr_step_size is now learning_rate.decay_every_epochs; this release still reads the old key",
                             "warning: schedule.warmup_steps is now learning_rate.warmup_steps; this release still reads the old key"])
        #expect(expectVAEError("training.learning_rate: give learning_rate.base alone") {
            _ = try load("", ["training.learning_rate=0.1", "learning_rate.base=0.2"])
        } == nil)
    }

    /// `vae config`'s YAML reads back to the same config, from any config, every setting spelled out.
    @Test func theWrittenYAMLReadsBackToTheSameConfig() throws {
        let faces = try TrainingConfig.load(path: packageRoot.appendingPathComponent("configs/faces.yaml").path)
        for config in [TrainingConfig(), try TrainingConfig.load(path: defaultConfig), faces] {
            #expect(try TrainingConfig.parse(yaml: Data(config.yaml.utf8), source: "written") == config)
        }
        let keys = TrainingConfig().yaml.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.trimmingCharacters(in: .whitespaces).hasPrefix("#") }
        #expect(keys.contains("  z_dim: 2") && keys.contains("  base: 0.0005") && keys.contains("    strides: [1, 2, 2, 1]"))
    }

    /// docs/config.md is generated from the settings' declarations: regenerate it with `vae config --reference > docs/config.md`.
    @Test func theConfigReferenceIsCurrent() throws {
        let file = try String(contentsOf: packageRoot.appendingPathComponent("docs/config.md"), encoding: .utf8)
        #expect(file == TrainingConfig.reference + "\n", "docs/config.md is stale: run `vae config --reference > docs/config.md`")
        for key in ["model.input_shape", "training.batch_size", "learning_rate.warmup_steps", "allreduce.compression", "watchdog.timeout_s"] {
            #expect(file.contains("| `\(key)` |"))
        }
    }

    /// state.json of format version 2, written before learning_rate, on_nonfinite, max_skipped_steps and the
    /// watchdog section: the old keys are read, and what is missing takes its default.
    @Test func checkpointsOfFormatVersionTwoStillDecode() throws {
        let older = """
            {"format_version": 2, "step": 7, "epoch": 1, "step_in_epoch": 3, "seed": 0, "world_size": 2, "global_batch": 32,
             "learning_rate": 0.0005, "checksums": {"model.safetensors": "ab"},
             "config": {"allreduce": {"bucket_kb": 64, "overlap": true}, "checkpoint": {"every_epochs": 1, "every_steps": 0, "keep": 3},
                        "data": {"limit": 0, "test": "\(TrainingConfig().data.test)", "test_labels": "\(TrainingConfig().data.testLabels)",
                                 "train": "\(TrainingConfig().data.train)"},
                        "model": {"decoder": {"filters": [64, 64, 32, 1], "kernels": [3, 3, 3, 3], "strides": [1, 2, 2, 1]}, "dropout_rate": 0.25,
                                  "encoder": {"filters": [32, 64, 64, 64], "kernels": [3, 3, 3, 3], "strides": [1, 2, 2, 1]},
                                  "input_shape": [28, 28, 1], "use_batch_norm": false, "use_dropout": false, "z_dim": 2},
                        "output": {"dir": "runs/fashion-mnist"}, "samples": {"every_epochs": 1},
                        "training": {"batch_size": 32, "conv_backend": "onednn", "epochs": 200, "learning_rate": 0.0005, "log_every_steps": 500,
                                     "lr_decay": 1, "lr_step_size": 1, "micro_batch": 8, "r_loss_factor": 1000, "seed": 0}}}
            """
        let state = try CheckpointState.decode(Data(older.utf8), path: "state.json")
        #expect(state.config == TrainingConfig() && state.step == 7)
    }

    /// state.json of format version 1: camelCase keys, the model as height/width/channels and a list of
    /// layers, and no samples, allreduce or data.test_labels yet; those take their defaults.
    @Test func checkpointsFromBeforeSamplesAllreduceAndTestLabelsStillDecode() throws {
        let layers = { (filters: [Int], strides: [Int]) in zip(filters, strides).map { "{\"filters\": \($0), \"kernel\": 3, \"stride\": \($1)}" }.joined(separator: ", ") }
        let older = """
            {"formatVersion": 1, "step": 7, "epoch": 1, "stepInEpoch": 3, "seed": 0, "worldSize": 2, "globalBatch": 32, "learningRate": 0.0005,
             "checksums": {"model.safetensors": "ab"},
             "config": {"model": {"inputHeight": 28, "inputWidth": 28, "inputChannels": 1,
                                  "encoder": [\(layers([32, 64, 64, 64], [1, 2, 2, 1]))], "decoder": [\(layers([64, 64, 32, 1], [1, 2, 2, 1]))],
                                  "zDim": 2, "useBatchNorm": false, "useDropout": false, "dropoutRate": 0.25},
                        "data": {"train": "\(TrainingConfig().data.train)", "test": "\(TrainingConfig().data.test)", "limit": 0},
                        "training": {"seed": 0, "epochs": 200, "batchSize": 32, "microBatch": 8, "learningRate": 0.0005, "rLossFactor": 1000,
                                     "lrDecay": 1, "lrStepSize": 1, "logEverySteps": 500},
                        "output": {"directory": "runs/fashion-mnist"}, "checkpoint": {"everySteps": 0, "everyEpochs": 1, "keep": 3}}}
            """
        let state = try CheckpointState.decode(Data(older.utf8), path: "state.json")
        #expect(state.config == TrainingConfig())
        #expect(state.step == 7 && state.worldSize == 2 && state.checksums == ["model.safetensors": "ab"])
    }

    /// state.json carries every setting under its YAML key, and reads back to the same config.
    @Test func stateJSONKeysAreTheYAMLs() throws {
        let state = CheckpointState(step: 7, epoch: 1, stepInEpoch: 3, seed: 0, worldSize: 2, globalBatch: 32, learningRate: 0.0005, config: TrainingConfig())
        let json = String(decoding: try JSON.pretty(state), as: UTF8.self)
        for key in ["\"input_shape\"", "\"z_dim\"", "\"batch_size\"", "\"bucket_kb\"", "\"every_epochs\"", "\"dir\"", "\"conv_backend\"", "\"class_names\"",
                    "\"on_nonfinite\"", "\"max_skipped_steps\"", "\"check_every_steps\"", "\"warmup_steps\"", "\"decay_every_epochs\""] {
            #expect(json.contains(key), "\(key) missing from \(json)")
        }
        #expect(json.contains("\"format_version\" : 3"))
        #expect(try CheckpointState.decode(Data(json.utf8), path: "state.json") == state)
    }

    /// state.json is not under the checksums: a hand-edited one is checked as a config file would be.
    @Test func stateJSONGetsTheConfigFilesChecks() throws {
        let state = CheckpointState(step: 7, epoch: 1, stepInEpoch: 3, seed: 0, worldSize: 2, globalBatch: 32, learningRate: 0.0005, config: TrainingConfig())
        let json = String(decoding: try JSON.pretty(state), as: UTF8.self)
        #expect(try CheckpointState.decode(Data(json.utf8), path: "state.json") == state)
        let edits = [("\"seed\" : 0", "\"seed\" : -1", "state.json: config: training.seed"), ("\"step\" : 7", "\"step\" : -7", "state.json: step is -7")]
        for (from, to, message) in edits {
            #expect(expectVAEError(message) { _ = try CheckpointState.decode(Data(json.replacingOccurrences(of: from, with: to).utf8), path: "state.json") } == nil)
        }
    }

    @Test func unknownKeysNameTheirPath() {
        #expect(expectVAEError("model.z_dimm", "unknown key") { _ = try load("model:\n  z_dimm: 2\n") } == nil)
        #expect(expectVAEError("trainer", "unknown key") { _ = try load("trainer:\n  epochs: 2\n") } == nil)
        #expect(expectVAEError("training.epoch", "unknown key") { _ = try load("", ["training.epoch=2"]) } == nil)
    }

    @Test func wrongTypesNameTheirPath() {
        #expect(expectVAEError("training.batch_size", "expected an integer", "'many'") { _ = try load("training:\n  batch_size: many\n") } == nil)
        #expect(expectVAEError("model.use_dropout", "true or false") { _ = try load("model:\n  use_dropout: 3\n") } == nil)
        #expect(expectVAEError("model.encoder.filters[1]", "integer") { _ = try load("model:\n  encoder:\n    filters: [32, x, 64, 64]\n") } == nil)
        #expect(expectVAEError("training", "section") { _ = try load("training: 5\n") } == nil)
    }

    @Test func impossibleValuesNameTheirPath() {
        #expect(expectVAEError("training.epochs", "positive") { _ = try load("training:\n  epochs: 0\n") } == nil)
        #expect(expectVAEError("model.z_dim", "positive") { _ = try load("model:\n  z_dim: 0\n") } == nil)
        #expect(expectVAEError("model.encoder.strides[0]", "1 or 2") { _ = try load("model:\n  encoder:\n    strides: [3, 2, 2, 1]\n") } == nil)
        #expect(expectVAEError("model.decoder.kernels", "3 kernels for 4 filters") { _ = try load("model:\n  decoder:\n    kernels: [3, 3, 3]\n") } == nil)
        #expect(expectVAEError("model.decoder.strides", "upsamples", "28×28") { _ = try load("model:\n  decoder:\n    strides: [1, 2, 1, 1]\n") } == nil)
        #expect(expectVAEError("model.decoder.filters", "channels") { _ = try load("model:\n  decoder:\n    filters: [64, 64, 32, 3]\n") } == nil)
        #expect(expectVAEError("model.dropout_rate", "[0, 1)") { _ = try load("model:\n  dropout_rate: 1\n") } == nil)
    }

    @Test func unreadableFiles() {
        #expect(expectVAEError("nope.yaml", "no such file") { _ = try TrainingConfig.load(path: "nope.yaml") } == nil)
        #expect(expectVAEError("not valid YAML") { _ = try load("model: [unclosed\n") } == nil)
        #expect(expectVAEError("--set", "key.path=value") { _ = try load("", ["epochs"]) } == nil)
    }
}
