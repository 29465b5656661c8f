// TrainingConfig: everything a run needs, in sections. Every setting is declared once, below, with its key,
// its default (the property's initial value: together, the GDL_code digits run), what it allows and one line
// of documentation; the YAML reader, `vae config`, state.json and docs/config.md come from these declarations
// (SettingsCatalog). Checks that tie settings together are in `validate()`.

import Foundation
import VAEData
import VAEMath
import VAESupport

public struct TrainingConfig: Equatable, Sendable, Decodable {
    public struct Model: Equatable, Sendable, Decodable {
        @Setting("input_shape", "[height, width, channels] of the images the model takes (1 channel: grey, 3: RGB).",
                 .each(Rule("an integer from 1 to 65536") { $0 > 0 && $0 <= 65536 }, count: 3))
        public var inputShape = [28, 28, 1]
        @Setting("encoder.filters", "Each encoder convolution's filters.", .each(.positive)) public var encoderFilters = [32, 64, 64, 64]
        @Setting("encoder.kernels", "Each encoder convolution's kernel size.", .each(.positive)) public var encoderKernels = [3, 3, 3, 3]
        @Setting("encoder.strides", "Each encoder convolution's stride.", .each(Rule("1 or 2") { $0 == 1 || $0 == 2 }))
        public var encoderStrides = [1, 2, 2, 1]
        @Setting("decoder.filters", "Each decoder transposed convolution's filters; the last is the images' channels.", .each(.positive))
        public var decoderFilters = [64, 64, 32, 1]
        @Setting("decoder.kernels", "Each decoder transposed convolution's kernel size.", .each(.positive)) public var decoderKernels = [3, 3, 3, 3]
        @Setting("decoder.strides", "Each decoder transposed convolution's stride.", .each(Rule("1 or 2") { $0 == 1 || $0 == 2 }))
        public var decoderStrides = [1, 2, 2, 1]
        @Setting("z_dim", "Dimensions of the latent space.", .positive) public var zDim = 2
        @Setting("use_batch_norm", "Batch normalization after each convolution but the last.") public var useBatchNorm = false
        @Setting("use_dropout", "Dropout after each convolution's activation but the last.") public var useDropout = false
        @Setting("dropout_rate", "The share of activations dropout zeroes.", Rule("in [0, 1)") { $0 >= 0 && $0 < 1 }) public var dropoutRate = 0.25

        public init() {}
    }

    public struct Data: Equatable, Sendable, Decodable {
        @Setting("train", "The training images: an IDX file, or a folder searched recursively for .jpg, .jpeg and .png files.")
        public var train = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
        @Setting("test", "Held-out images (an IDX file or a folder): rank 0 draws its sample pictures from them.")
        public var test = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
        @Setting("test_labels", "Labels of the test images, which colour the latent scatter; this default may be absent "
                 + "(an uncoloured plot), any other file must hold one label per test image; empty: none.")
        public var testLabels = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"
        @Setting("limit", "Keep only the first this many training images.", Rule("0 (all) or a positive count") { $0 >= 0 }) public var limit = 0
        @Setting("class_names", "The names of labels 0, 1, … in the latent scatter's legend; empty: the label numbers.")
        public var classNames: [String] = []
        @Setting("resize", "How a folder's images take the model's input size: stretch each axis (the book's), or center_crop to the aspect first.")
        public var resize = Resize.stretch
        @Setting("bad_images", "A folder's undecodable image: error (one line naming it, exit 2), or skip it with a warning.")
        public var badImages = BadImages.error
        @Setting("validation", "Images to validate on: an IDX file, a folder, or test (data.test); empty: none, unless "
                 + "checkpoint.keep_best asks for the test split.")
        public var validation = ""
        @Setting("cache_dir", "Where a folder's decoded images are cached; node-local, so nodes without a shared file system each build their own.")
        public var cacheDirectory = "/tmp/vae-image-cache"

        /// How a folder named by `train` or `test` is read.
        public var folderSettings: FolderSettings { FolderSettings(resize: resize, badImages: badImages, cacheDirectory: cacheDirectory) }

        public init() {}
    }

    public struct Training: Equatable, Sendable, Decodable {
        @Setting("seed", "Every random draw is a function of the seed, the epoch and the sample's index.", .nonNegative) public var seed = 0
        @Setting("epochs", "Epochs to train.", .positive) public var epochs = 200
        @Setting("batch_size", "The global batch: summed over all ranks.", .positive) public var batchSize = 32
        @Setting("micro_batch", "Samples per gradient leaf: a batch's gradient is the pairwise-tree sum of its micro-batches'.", .positive)
        public var microBatch = 8
        @Setting("log_every_steps", "Record metrics every this many steps, and print a progress line when stdout is not a terminal.",
                 .offOrPositive("a positive number of steps (0: only the per-epoch lines)"))
        public var logEverySteps = 500
        @Setting("conv_backend", "The convolutions' code: oneDNN's primitives, or im2col and OpenBLAS GEMMs; VAE_CONV_BACKEND overrides it.")
        public var convBackend = ConvolutionBackend.default
        @Setting("on_nonfinite", "A step whose loss or gradients went NaN or infinite on any rank: stop the run, or skip the step and count it.")
        public var onNonfinite = OnNonfinite.stop
        @Setting("max_skipped_steps", "The run stops once more steps than this were skipped in it (on_nonfinite: skip, skip_grad_norm).",
                 .nonNegative)
        public var maxSkippedSteps = 100
        @Setting("clip_grad_norm", "Scale the summed gradient down to this global L2 norm when it is larger (PyTorch's clip_grad_norm_).",
                 .offOrPositive())
        public var clipGradNorm = 0.0
        @Setting("skip_grad_norm", "Skip a step whose summed gradient's global L2 norm is above this (vdvae's skip threshold), counted as a skipped step.",
                 .offOrPositive())
        public var skipGradNorm = 0.0
        @Setting("ema_decay", "Keep an exponential moving average of the weights with this decay (0.999–0.9999 is usual), saved beside them and used "
                 + "for the pictures and by the commands on a checkpoint.", Rule("0 (off) or in (0, 1)") { $0 >= 0 && $0 < 1 })
        public var emaDecay = 0.0

        public init() {}
    }

    /// The loss: the book's weighted reconstruction term plus a KL term weighted by β, ramped up and cycled on request.
    public struct Loss: Equatable, Sendable, Decodable {
        @Setting("r_loss_factor", "The weight of the reconstruction term (the book's r_loss_factor).", .positive) public var rLossFactor = 1000.0
        @Setting("beta", "The weight of the KL term (β-VAE, Higgins et al. 2017); 1: the book's VAE.", .positive) public var beta = 1.0
        @Setting("kl_warmup_steps", "The KL term's weight ramps linearly from 0 to beta over this many steps (Bowman et al. 2016).",
                 .offOrPositive("a number of steps"))
        public var klWarmupSteps = 0
        @Setting("kl_cycle_steps", "Start the ramp again every this many steps (cyclical annealing, Fu et al. 2019).",
                 .offOrPositive("a number of steps"))
        public var klCycleSteps = 0

        public init() {}
    }

    /// The learning rate of every step (LearningRateSchedule): a linear warm-up, then GDL_code's step decay.
    public struct LearningRate: Equatable, Sendable, Decodable {
        @Setting("base", "Adam's learning rate after the warm-up, before any decay.", .positive) public var base = 0.0005
        @Setting("decay", "Multiplies the rate every decay_every_epochs epochs (GDL_code's step decay); 1: none.",
                 Rule("in (0, 1]") { $0 > 0 && $0 <= 1 })
        public var decay = 1.0
        @Setting("decay_every_epochs", "Epochs between decays.", .positive) public var decayEveryEpochs = 1
        @Setting("warmup_steps", "The first this many steps ramp the rate linearly up to base, as the linear scaling rule wants for large batches.",
                 .offOrPositive("a number of steps"))
        public var warmupSteps = 0

        public init() {}
    }

    /// How the gradients are summed over the ranks. Overlapped or not, the sums are bit for bit the same;
    /// compressed, they are other bits, still the same on every rank.
    public struct Allreduce: Equatable, Sendable, Decodable {
        @Setting("overlap", "Sum gradient buckets while the backward pass goes on (PyTorch DDP's design); false: one allreduce after it.")
        public var overlap = true
        @Setting("bucket_kb", "A bucket closes once it holds this many KiB of gradients.", .positive)
        public var bucketKB = AllreduceAlgorithm.halvingFromFloats * MemoryLayout<Float>.size / 1024
        @Setting("compression", "What the gradients travel as: floats, or 16 bits (half the bytes), every partial sum rounded.")
        public var compression = AllreduceCompression.none
        @Setting("algorithm", "How the sum moves (the same bits either way): auto, recursive doubling, or Rabenseifner's halving.")
        public var algorithm = AllreduceAlgorithm.auto

        public init() {}
    }

    public struct Output: Equatable, Sendable, Decodable {
        @Setting("dir", "The run's directory: checkpoints, metrics.jsonl, samples and report.html (--out overrides it).")
        public var directory = "runs/fashion-mnist"

        public init() {}
    }

    public struct Checkpointing: Equatable, Sendable, Decodable {
        @Setting("every_steps", "Write a checkpoint every this many steps.", .offOrPositive()) public var everySteps = 0
        @Setting("every_epochs", "Write a checkpoint every this many epochs; one is always written at the end.", .offOrPositive())
        public var everyEpochs = 1
        @Setting("keep", "How many of the newest checkpoints to keep.", .positive) public var keep = 3
        @Setting("keep_best", "Also keep checkpoints/best, the checkpoint of the lowest validation loss; pruning and --resume leave it be.")
        public var keepBest = false
        @Setting("replicas", "How many nodes keep every checkpoint: rank 0's in output.dir, and the first rank of each next node in "
                 + "checkpoint.replica_dir on its own disk; --resume takes the newest copy any rank holds.", .positive)
        public var replicas = 1
        @Setting("replica_dir", "Where the other nodes keep their copies (node-local; needed with replicas above 1).")
        public var replicaDirectory = ""

        public init() {}
    }

    public struct Validation: Equatable, Sendable, Decodable {
        @Setting("every_epochs", "Evaluate data.validation every this many epochs, and at the end.", .positive) public var everyEpochs = 1

        public init() {}
    }

    public struct TensorBoard: Equatable, Sendable, Decodable {
        @Setting("enabled", "Rank 0 writes OUT/tensorboard/: every metric and sample picture, for `tensorboard --logdir OUT`.")
        public var enabled = true

        public init() {}
    }

    public struct Samples: Equatable, Sendable, Decodable {
        @Setting("every_epochs", "Rank 0 draws sample pictures every this many epochs, and always at the end.",
                 Rule("0 (only at the end) or a positive integer") { $0 >= 0 })
        public var everyEpochs = 1

        public init() {}
    }

    /// Checks that catch a stalled rank and ranks drifting apart without an error.
    public struct Watchdog: Equatable, Sendable, Decodable {
        @Setting("check_every_steps", "Every this many steps the ranks compare a hash of their weights.", .offOrPositive())
        public var checkEverySteps = 1000
        @Setting("timeout_s", "A rank that waits this long for its peers, or makes no progress of its own for this long, ends the job.",
                 .offOrPositive("a positive number of seconds"))
        public var timeoutSeconds = 300.0

        public init() {}
    }

    public var model = Model()
    public var data = Data()
    public var training = Training()
    public var loss = Loss()
    public var learningRate = LearningRate()
    public var allreduce = Allreduce()
    public var output = Output()
    public var checkpoint = Checkpointing()
    public var samples = Samples()
    public var validation = Validation()
    public var tensorBoard = TensorBoard()
    public var watchdog = Watchdog()

    public init() {}

    /// What the model's section builds.
    public var architecture: Architecture {
        get {
            let m = model
            func layers(_ filters: [Int], _ kernels: [Int], _ strides: [Int]) -> [ConvSpec] {
                (0..<filters.count).map { ConvSpec(filters: filters[$0], kernel: kernels[$0], stride: strides[$0]) }
            }
            return Architecture(inputHeight: m.inputShape[0], inputWidth: m.inputShape[1], inputChannels: m.inputShape[2],
                                encoder: layers(m.encoderFilters, m.encoderKernels, m.encoderStrides),
                                decoder: layers(m.decoderFilters, m.decoderKernels, m.decoderStrides),
                                zDim: m.zDim, useBatchNorm: m.useBatchNorm, useDropout: m.useDropout, dropoutRate: Float(m.dropoutRate))
        }
        set {
            model.inputShape = [newValue.inputHeight, newValue.inputWidth, newValue.inputChannels]
            (model.encoderFilters, model.encoderKernels, model.encoderStrides) = (newValue.encoder.map(\.filters), newValue.encoder.map(\.kernel), newValue.encoder.map(\.stride))
            (model.decoderFilters, model.decoderKernels, model.decoderStrides) = (newValue.decoder.map(\.filters), newValue.decoder.map(\.kernel), newValue.decoder.map(\.stride))
            (model.zDim, model.useBatchNorm, model.useDropout, model.dropoutRate) = (newValue.zDim, newValue.useBatchNorm, newValue.useDropout, Double(newValue.dropoutRate))
        }
    }

    /// The checks that tie settings together; each setting's own rule was checked as it was read.
    public func validate() throws {
        if checkpoint.replicas > 1 && checkpoint.replicaDirectory.isEmpty {
            throw VAEError("checkpoint.replica_dir: \(checkpoint.replicas) replicas need a node-local directory to keep them in")
        }
        if training.batchSize % training.microBatch != 0 {
            throw VAEError("training.micro_batch: \(training.microBatch) does not divide training.batch_size \(training.batchSize)")
        }
        let m = model
        for (stack, filters, kernels, strides) in [("encoder", m.encoderFilters, m.encoderKernels, m.encoderStrides),
                                                   ("decoder", m.decoderFilters, m.decoderKernels, m.decoderStrides)] {
            guard kernels.count == filters.count else { throw VAEError("model.\(stack).kernels: \(kernels.count) kernels for \(filters.count) filters") }
            guard strides.count == filters.count else { throw VAEError("model.\(stack).strides: \(strides.count) strides for \(filters.count) filters") }
        }
        let a = architecture
        if a.decoder.last!.filters != a.inputChannels {
            throw VAEError("model.decoder.filters: the last layer has \(a.decoder.last!.filters) filters but images have \(a.inputChannels) channels")
        }
        let decoded = a.decodedShape, input = [a.inputHeight, a.inputWidth]
        if Array(decoded[0..<2]) != input {
            let encoded = a.encodedShape
            throw VAEError("model.decoder.strides: the decoder upsamples the encoder's \(encoded[0])×\(encoded[1]) to \(decoded[0])×\(decoded[1]), but the input is \(input[0])×\(input[1])")
        }
    }

    /// Every setting that shapes the trajectory: the config without its output, checkpoint, samples and
    /// tensorboard sections, which ranks may not share (only rank 0 writes files), nor the node-local cache's place.
    public var trajectorySettings: TrainingConfig {
        var settings = self
        settings.output = Output()
        settings.data.cacheDirectory = Data().cacheDirectory
        settings.checkpoint = Checkpointing()
        settings.samples = Samples()
        settings.tensorBoard = TensorBoard()
        return settings
    }

    /// The images validated on: data.validation, `test` meaning data.test; with none named, data.test when
    /// checkpoint.keep_best needs a validation loss; nil: no validation.
    public var validationImages: String? {
        switch data.validation {
        case "": checkpoint.keepBest ? data.test : nil
        case "test": data.test
        default: data.validation
        }
    }

    /// The KL term's weight at global step `step` (0-based): β, ramped from 0 over loss.kl_warmup_steps (again
    /// every loss.kl_cycle_steps). Exactly β without a ramp, so the book's run keeps its bits.
    public func klWeight(step: Int) -> Float {
        let beta = Float(loss.beta), ramp = loss.klWarmupSteps
        guard ramp > 0 else { return beta }
        let inCycle = loss.klCycleSteps > 0 ? step % loss.klCycleSteps : step
        return inCycle >= ramp ? beta : beta * Float(inCycle) / Float(ramp)
    }

    /// The learning rate of every step.
    public var learningRates: LearningRateSchedule {
        LearningRateSchedule(base: Float(learningRate.base), decayFactor: Float(learningRate.decay),
                             decayEveryEpochs: learningRate.decayEveryEpochs, warmupSteps: learningRate.warmupSteps)
    }
}

/// What a step does when its loss or gradients went non-finite (NaN or infinite) on any rank.
public enum OnNonfinite: String, CaseIterable, Sendable, Codable, ChoiceSetting {
    /// The step is not taken; one line names the step, the ranks and what went non-finite; exit 2.
    case stop
    /// The step is dropped, weights and Adam's state left as if it never happened, and counted.
    case skip
}

extension ConvolutionBackend: ChoiceSetting {}
extension AllreduceCompression: ChoiceSetting {}
extension AllreduceAlgorithm: ChoiceSetting {}
extension Resize: ChoiceSetting {}
extension BadImages: ChoiceSetting {}
