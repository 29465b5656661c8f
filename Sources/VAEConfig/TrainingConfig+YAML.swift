// TrainingConfig from YAML: the file's tree, `--set` overrides applied, each key read and checked by path
// (errors name the key), every key absent keeping the struct's default.

import Foundation
import VAEMath
import VAESupport

extension TrainingConfig {
    /// Reads a YAML file, applies `--set` overrides, and validates.
    public static func load(path: String, overrides: [String] = []) throws -> TrainingConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw VAEError("\(path): cannot read the config file (\(FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file"))")
        }
        return try parse(yaml: data, source: path, overrides: overrides)
    }

    /// Reads YAML bytes (a config file's), applies `--set` overrides, and validates; `source` names them in errors.
    public static func parse(yaml data: Foundation.Data, source path: String, overrides: [String] = []) throws -> TrainingConfig {
        guard let text = String(data: data, encoding: .utf8) else { throw VAEError("\(path): the config file is not UTF-8 text") }
        var tree = try ConfigTree.parse(yaml: text, source: path)
        for assignment in overrides { try tree.override(assignment) }
        do { return try TrainingConfig(tree) } catch let error as VAEError {
            throw VAEError("\(path): \(error.message)")
        }
    }

    /// The config a YAML tree describes: every key present is read and checked, every other keeps its default.
    public init(_ tree: ConfigTree) throws {
        self.init()
        let root = try ConfigSection(tree, path: "")
        try readModel(root.section("model"))
        try readData(root.section("data"))
        try readTraining(root.section("training"))
        let sc = try root.section("schedule")
        schedule.warmupSteps = try sc.int("warmup_steps", default: schedule.warmupSteps, "0 (off) or a positive number of steps") { $0 >= 0 }
        try sc.finish()
        let a = try root.section("allreduce")
        allreduce.overlap = try a.bool("overlap", default: allreduce.overlap)
        allreduce.bucketKB = try a.int("bucket_kb", default: allreduce.bucketKB, "a positive integer") { $0 > 0 }
        allreduce.compression = try a.choice("compression", default: allreduce.compression)
        allreduce.algorithm = try a.choice("algorithm", default: allreduce.algorithm)
        try a.finish()
        let out = try root.section("output")
        output.directory = try out.string("dir", default: output.directory) ?? output.directory
        try out.finish()
        let c = try root.section("checkpoint")
        checkpoint.everySteps = try c.int("every_steps", default: checkpoint.everySteps, "0 (off) or a positive integer") { $0 >= 0 }
        checkpoint.everyEpochs = try c.int("every_epochs", default: checkpoint.everyEpochs, "0 (off) or a positive integer") { $0 >= 0 }
        checkpoint.keep = try c.int("keep", default: checkpoint.keep, "a positive integer") { $0 > 0 }
        try c.finish()
        let s = try root.section("samples")
        samples.everyEpochs = try s.int("every_epochs", default: samples.everyEpochs, "0 (only at the end) or a positive integer") { $0 >= 0 }
        try s.finish()
        let w = try root.section("watchdog")
        watchdog.checkEverySteps = try w.int("check_every_steps", default: watchdog.checkEverySteps, "0 (off) or a positive integer") { $0 >= 0 }
        watchdog.timeoutSeconds = try w.double("timeout_s", default: watchdog.timeoutSeconds, "0 (off) or a positive number of seconds") { $0 >= 0 && $0.isFinite }
        try w.finish()
        try root.finish()
    }

    private mutating func readModel(_ m: ConfigSection) throws {
        let positive = "a positive integer"
        // A bound well past any image (JPEG's is 65,535 a side) keeps the shape arithmetic far from overflow.
        let shape = try m.intList("input_shape", default: [model.inputHeight, model.inputWidth, model.inputChannels],
                                  "a positive integer up to 65536") { $0 > 0 && $0 <= 65536 }
        guard shape.count == 3 else { throw m.error("input_shape", "expected [height, width, channels], found \(shape.count) numbers") }
        func convs(_ key: String, defaults: [ConvSpec]) throws -> [ConvSpec] {
            let s = try m.section(key)
            let filters = try s.intList("filters", default: defaults.map(\.filters), positive) { $0 > 0 }
            let kernels = try s.intList("kernels", default: defaults.map(\.kernel), positive) { $0 > 0 }
            let strides = try s.intList("strides", default: defaults.map(\.stride), "1 or 2") { $0 == 1 || $0 == 2 }
            guard kernels.count == filters.count else { throw s.error("kernels", "\(kernels.count) kernels for \(filters.count) filters") }
            guard strides.count == filters.count else { throw s.error("strides", "\(strides.count) strides for \(filters.count) filters") }
            try s.finish()
            return (0..<filters.count).map { ConvSpec(filters: filters[$0], kernel: kernels[$0], stride: strides[$0]) }
        }
        model.inputHeight = shape[0]
        model.inputWidth = shape[1]
        model.inputChannels = shape[2]
        model.encoder = try convs("encoder", defaults: model.encoder)
        model.decoder = try convs("decoder", defaults: model.decoder)
        model.zDim = try m.int("z_dim", default: model.zDim, positive) { $0 > 0 }
        model.useBatchNorm = try m.bool("use_batch_norm", default: model.useBatchNorm)
        model.useDropout = try m.bool("use_dropout", default: model.useDropout)
        model.dropoutRate = Float(try m.double("dropout_rate", default: Double(model.dropoutRate), "in [0, 1)") { $0 >= 0 && $0 < 1 })
        try m.finish()

        if model.decoder.last!.filters != model.inputChannels {
            throw VAEError("model.decoder.filters: the last layer has \(model.decoder.last!.filters) filters but images have \(model.inputChannels) channels")
        }
        let decoded = model.decodedShape, input = Array(shape[0..<2])
        if Array(decoded[0..<2]) != input {
            let encoded = model.encodedShape
            throw VAEError("model.decoder.strides: the decoder upsamples the encoder's \(encoded[0])×\(encoded[1]) to \(decoded[0])×\(decoded[1]), but the input is \(input[0])×\(input[1])")
        }
    }

    private mutating func readData(_ d: ConfigSection) throws {
        data.train = try d.string("train", default: data.train) ?? data.train
        data.test = try d.string("test", default: data.test) ?? data.test
        data.testLabels = try d.string("test_labels", default: data.testLabels) ?? data.testLabels
        data.limit = try d.int("limit", default: data.limit, "0 (all) or a positive count") { $0 >= 0 }
        data.classNames = try d.stringList("class_names", default: data.classNames)
        data.resize = try d.choice("resize", default: data.resize)
        data.badImages = try d.choice("bad_images", default: data.badImages)
        data.cacheDirectory = try d.string("cache_dir", default: data.cacheDirectory) ?? data.cacheDirectory
        try d.finish()
    }

    private mutating func readTraining(_ t: ConfigSection) throws {
        training.seed = try t.int("seed", default: training.seed, "a non-negative integer") { $0 >= 0 }
        training.epochs = try t.int("epochs", default: training.epochs, "a positive integer") { $0 > 0 }
        training.batchSize = try t.int("batch_size", default: training.batchSize, "a positive integer") { $0 > 0 }
        training.microBatch = try t.int("micro_batch", default: training.microBatch, "a positive integer") { $0 > 0 }
        if training.batchSize % training.microBatch != 0 {
            throw t.error("micro_batch", "\(training.microBatch) does not divide training.batch_size \(training.batchSize)")
        }
        training.learningRate = try t.double("learning_rate", default: training.learningRate, "positive") { $0 > 0 && $0.isFinite }
        training.rLossFactor = try t.double("r_loss_factor", default: training.rLossFactor, "positive") { $0 > 0 && $0.isFinite }
        training.lrDecay = try t.double("lr_decay", default: training.lrDecay, "in (0, 1]") { $0 > 0 && $0 <= 1 }
        training.lrStepSize = try t.int("lr_step_size", default: training.lrStepSize, "a positive integer") { $0 > 0 }
        training.logEverySteps = try t.int("log_every_steps", default: training.logEverySteps, "0 (off) or a positive integer") { $0 >= 0 }
        training.convBackend = try t.choice("conv_backend", default: training.convBackend)
        training.onNonfinite = try t.choice("on_nonfinite", default: training.onNonfinite)
        training.maxSkippedSteps = try t.int("max_skipped_steps", default: training.maxSkippedSteps, "a non-negative integer") { $0 >= 0 }
        try t.finish()
    }
}
