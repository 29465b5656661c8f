// TrainingConfig: everything a run needs, read from YAML with sections model, data, training, allreduce, output,
// checkpoint and samples.
// Every key is optional; a missing key takes the GDL_code digits value. See README.md for the reference.

import Foundation
import VAEMath
import VAESupport

public struct TrainingConfig: Equatable, Sendable, Codable {
    public struct Data: Equatable, Sendable, Codable {
        public var train = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
        /// Held-out images: rank 0 draws its sample images from them.
        public var test = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
        /// Labels of the test images, which colour the latent scatter plot. The default file may be absent
        /// (an uncoloured plot); any other file must exist and hold one label per test image.
        public var testLabels = Data.defaultTestLabels
        public static let defaultTestLabels = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"
        /// Keep only the first `limit` training images; 0 keeps all.
        public var limit = 0
        /// The names of labels 0, 1, … in the latent scatter's legend; empty: the label numbers.
        public var classNames: [String] = []
    }

    public struct Training: Equatable, Sendable, Codable {
        public var seed = 0
        public var epochs = 200
        /// The global batch: summed over all ranks.
        public var batchSize = 32
        /// Samples per gradient leaf: a batch's gradient is the pairwise-tree sum of its micro-batches'.
        public var microBatch = 8
        public var learningRate = 0.0005
        public var rLossFactor = 1000.0
        public var lrDecay = 1.0
        public var lrStepSize = 1
        /// Record metrics every this many steps, and print a progress line when stdout is not a terminal
        /// (a terminal gets a live line instead); 0: only the per-epoch lines and records.
        public var logEverySteps = 500
    }

    /// How the gradients are summed over the ranks. Either way the sums are bit for bit the same.
    public struct Allreduce: Equatable, Sendable, Codable {
        /// Buckets of layers, each summed while the backward pass goes on (PyTorch DDP's design); false: one
        /// allreduce of the whole buffer after the backward pass.
        public var overlap = true
        /// A bucket closes once it holds this many KiB of gradients.
        public var bucketKB = 64
    }

    public struct Output: Equatable, Sendable, Codable {
        public var directory = "runs/fashion-mnist"
    }

    public struct Checkpointing: Equatable, Sendable, Codable {
        /// Write a checkpoint every this many optimizer steps; 0 turns it off.
        public var everySteps = 0
        /// Write a checkpoint every this many epochs; 0 turns it off. One is always written at the end.
        public var everyEpochs = 1
        /// How many of the newest checkpoints to keep.
        public var keep = 3
    }

    public struct Samples: Equatable, Sendable, Codable {
        /// Rank 0 writes sample images every this many epochs; 0: only at the end. Always at the end.
        public var everyEpochs = 1
    }

    public var model = Architecture.gdlDigits
    public var data = Data()
    public var training = Training()
    public var allreduce = Allreduce()
    public var output = Output()
    public var checkpoint = Checkpointing()
    public var samples = Samples()

    public init() {}

    /// A hash of every setting that shapes the trajectory (the output directory excluded), compared across ranks.
    public var fingerprint: [UInt8] {
        var resolved = self
        resolved.output = Output()
        resolved.checkpoint = Checkpointing()
        resolved.samples = Samples()
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = (try? encoder.encode(resolved)) ?? Foundation.Data()
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325  // FNV-1a: enough to tell configs apart, not a security hash
        for byte in json { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        return withUnsafeBytes(of: hash.littleEndian, Array.init)
    }

    public var schedule: StepDecaySchedule {
        StepDecaySchedule(initialRate: Float(training.learningRate), decayFactor: Float(training.lrDecay),
                          stepSize: training.lrStepSize)
    }

    /// Reads a YAML file, applies `--set` overrides, and validates.
    public static func load(path: String, overrides: [String] = []) throws -> TrainingConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw VAEError("\(path): cannot read the config file (\(FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file"))")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw VAEError("\(path): the config file is not UTF-8 text") }
        var tree = try ConfigTree.parse(yaml: text, source: path)
        for assignment in overrides { try tree.override(assignment) }
        do { return try TrainingConfig(tree) } catch let error as VAEError {
            throw VAEError("\(path): \(error.message)")
        }
    }

    public init(_ tree: ConfigTree) throws {
        let root = try ConfigSection(tree, path: "")
        try readModel(root.section("model"))
        try readData(root.section("data"))
        try readTraining(root.section("training"))
        let a = try root.section("allreduce")
        allreduce.overlap = try a.bool("overlap", default: true)
        allreduce.bucketKB = try a.int("bucket_kb", default: 64, "a positive integer") { $0 > 0 }
        try a.finish()
        let out = try root.section("output")
        output.directory = try out.string("dir", default: output.directory) ?? output.directory
        try out.finish()
        let c = try root.section("checkpoint")
        checkpoint.everySteps = try c.int("every_steps", default: 0, "0 (off) or a positive integer") { $0 >= 0 }
        checkpoint.everyEpochs = try c.int("every_epochs", default: 1, "0 (off) or a positive integer") { $0 >= 0 }
        checkpoint.keep = try c.int("keep", default: 3, "a positive integer") { $0 > 0 }
        try c.finish()
        let s = try root.section("samples")
        samples.everyEpochs = try s.int("every_epochs", default: 1, "0 (only at the end) or a positive integer") { $0 >= 0 }
        try s.finish()
        try root.finish()
    }

    private mutating func readModel(_ m: ConfigSection) throws {
        let positive = "a positive integer"
        let shape = try m.intList("input_shape", default: [28, 28, 1], positive) { $0 > 0 }
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
        model.encoder = try convs("encoder", defaults: Architecture.gdlDigits.encoder)
        model.decoder = try convs("decoder", defaults: Architecture.gdlDigits.decoder)
        model.zDim = try m.int("z_dim", default: 2, positive) { $0 > 0 }
        model.useBatchNorm = try m.bool("use_batch_norm", default: false)
        model.useDropout = try m.bool("use_dropout", default: false)
        model.dropoutRate = Float(try m.double("dropout_rate", default: 0.25, "in [0, 1)") { $0 >= 0 && $0 < 1 })
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
        data.limit = try d.int("limit", default: 0, "0 (all) or a positive count") { $0 >= 0 }
        data.classNames = try d.stringList("class_names", default: data.classNames)
        try d.finish()
    }

    private mutating func readTraining(_ t: ConfigSection) throws {
        training.seed = try t.int("seed", default: 0, "a non-negative integer") { $0 >= 0 }
        training.epochs = try t.int("epochs", default: 200, "a positive integer") { $0 > 0 }
        training.batchSize = try t.int("batch_size", default: 32, "a positive integer") { $0 > 0 }
        training.microBatch = try t.int("micro_batch", default: 8, "a positive integer") { $0 > 0 }
        if training.batchSize % training.microBatch != 0 {
            throw t.error("micro_batch", "\(training.microBatch) does not divide training.batch_size \(training.batchSize)")
        }
        training.learningRate = try t.double("learning_rate", default: 0.0005, "positive") { $0 > 0 && $0.isFinite }
        training.rLossFactor = try t.double("r_loss_factor", default: 1000, "positive") { $0 > 0 && $0.isFinite }
        training.lrDecay = try t.double("lr_decay", default: 1, "in (0, 1]") { $0 > 0 && $0 <= 1 }
        training.lrStepSize = try t.int("lr_step_size", default: 1, "a positive integer") { $0 > 0 }
        training.logEverySteps = try t.int("log_every_steps", default: 500, "0 (off) or a positive integer") { $0 >= 0 }
        try t.finish()
    }
}

// Checkpoints written before data.test_labels and the samples and allreduce sections existed lack their keys in state.json;
// they decode with the defaults.
extension TrainingConfig {
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.decode(Architecture.self, forKey: .model)
        data = try c.decode(Data.self, forKey: .data)
        training = try c.decode(Training.self, forKey: .training)
        allreduce = try c.decodeIfPresent(Allreduce.self, forKey: .allreduce) ?? Allreduce()
        output = try c.decode(Output.self, forKey: .output)
        checkpoint = try c.decode(Checkpointing.self, forKey: .checkpoint)
        samples = try c.decodeIfPresent(Samples.self, forKey: .samples) ?? Samples()
    }
}

extension TrainingConfig.Data {
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        train = try c.decode(String.self, forKey: .train)
        test = try c.decode(String.self, forKey: .test)
        testLabels = try c.decodeIfPresent(String.self, forKey: .testLabels) ?? Self.defaultTestLabels
        limit = try c.decode(Int.self, forKey: .limit)
        classNames = try c.decodeIfPresent([String].self, forKey: .classNames) ?? []
    }
}
