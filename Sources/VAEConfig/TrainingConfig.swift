// TrainingConfig: everything a run needs, in sections model, data, training, schedule, allreduce, output,
// checkpoint, samples and watchdog. The initial values below are the one place defaults are written (the GDL_code digits
// run); YAML (TrainingConfig+YAML.swift) and state.json use the same snake_case keys. See README.md for the
// reference.

import Foundation
import VAECommunication
import VAEMath
import VAESupport

public struct TrainingConfig: Equatable, Sendable, Codable {
    public struct Data: Equatable, Sendable, Codable {
        /// An IDX file, or a folder searched recursively for .jpg, .jpeg and .png files.
        public var train = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
        /// Held-out images (an IDX file or a folder): rank 0 draws its sample images from them.
        public var test = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
        /// Labels of the test images, which colour the latent scatter plot. The default file may be absent
        /// (an uncoloured plot); any other file must exist and hold one label per test image; empty: none.
        public var testLabels = Data.defaultTestLabels
        public static let defaultTestLabels = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"
        /// Keep only the first `limit` training images; 0 keeps all.
        public var limit = 0
        /// The names of labels 0, 1, … in the latent scatter's legend; empty: the label numbers.
        public var classNames: [String] = []
        /// How a folder's images take the model's input size.
        public var resize = Resize.stretch
        /// What a folder's undecodable image does to the run.
        public var badImages = BadImages.error
        /// Where a folder's decoded images are cached; node-local, so nodes without a shared file system
        /// each build their own.
        public var cacheDirectory = "/tmp/vae-image-cache"

        public enum Resize: String, CaseIterable, Equatable, Sendable, Codable {
            /// Scale each axis to the target (Keras's flow_from_directory, the book's).
            case stretch
            /// Crop the middle to the target's aspect, then scale.
            case centerCrop = "center_crop"
        }

        public enum BadImages: String, CaseIterable, Equatable, Sendable, Codable {
            /// One line naming the file, exit 2.
            case error
            /// A warning per file; the run goes on without it.
            case skip
        }

        enum CodingKeys: String, CodingKey {
            case train, test, testLabels = "test_labels", limit, classNames = "class_names"
            case resize, badImages = "bad_images", cacheDirectory = "cache_dir"
        }

        public init() {}

        /// Keys added after a checkpoint was written keep their defaults.
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            train = try c.decode(String.self, forKey: .train)
            test = try c.decode(String.self, forKey: .test)
            testLabels = try c.decode(String.self, forKey: .testLabels)
            limit = try c.decode(Int.self, forKey: .limit)
            classNames = try c.decodeIfPresent([String].self, forKey: .classNames) ?? classNames
            resize = try c.decodeIfPresent(Resize.self, forKey: .resize) ?? resize
            badImages = try c.decodeIfPresent(BadImages.self, forKey: .badImages) ?? badImages
            cacheDirectory = try c.decodeIfPresent(String.self, forKey: .cacheDirectory) ?? cacheDirectory
        }
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
        /// The convolutions' code; VAE_CONV_BACKEND overrides it for a run (the CLI reads it).
        public var convBackend = ConvolutionBackend.default
        /// What a step does to the run when its loss or gradients went non-finite (NaN or infinite) on any rank.
        public var onNonfinite = OnNonfinite.stop
        /// Under `skip`, the run stops as under `stop` once more steps than this were skipped in it.
        public var maxSkippedSteps = 100

        public enum OnNonfinite: String, CaseIterable, Equatable, Sendable, Codable {
            /// The step is not taken; one line names the step, the ranks and what went non-finite; exit 2.
            case stop
            /// The step is dropped, weights and Adam's state left as if it never happened, and counted.
            case skip
        }

        enum CodingKeys: String, CodingKey {
            case seed, epochs, batchSize = "batch_size", microBatch = "micro_batch", learningRate = "learning_rate"
            case rLossFactor = "r_loss_factor", lrDecay = "lr_decay", lrStepSize = "lr_step_size", logEverySteps = "log_every_steps"
            case convBackend = "conv_backend", onNonfinite = "on_nonfinite", maxSkippedSteps = "max_skipped_steps"
        }

        public init() {}

        /// Keys added after a checkpoint was written keep their defaults.
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            seed = try c.decode(Int.self, forKey: .seed)
            epochs = try c.decode(Int.self, forKey: .epochs)
            batchSize = try c.decode(Int.self, forKey: .batchSize)
            microBatch = try c.decode(Int.self, forKey: .microBatch)
            learningRate = try c.decode(Double.self, forKey: .learningRate)
            rLossFactor = try c.decode(Double.self, forKey: .rLossFactor)
            lrDecay = try c.decode(Double.self, forKey: .lrDecay)
            lrStepSize = try c.decode(Int.self, forKey: .lrStepSize)
            logEverySteps = try c.decode(Int.self, forKey: .logEverySteps)
            convBackend = try c.decode(ConvolutionBackend.self, forKey: .convBackend)
            onNonfinite = try c.decodeIfPresent(OnNonfinite.self, forKey: .onNonfinite) ?? onNonfinite
            maxSkippedSteps = try c.decodeIfPresent(Int.self, forKey: .maxSkippedSteps) ?? maxSkippedSteps
        }
    }

    /// How the learning rate moves over the run, beyond training.learning_rate and its step decay.
    public struct Schedule: Equatable, Sendable, Codable {
        /// The first this many optimizer steps ramp the rate linearly up to training.learning_rate (step s takes
        /// (s + 1) / warmup_steps of it; see StepDecaySchedule), as the linear scaling rule wants when the
        /// global batch grows; 0: no warm-up.
        public var warmupSteps = 0

        enum CodingKeys: String, CodingKey { case warmupSteps = "warmup_steps" }

        public init() {}

        /// Keys added after a checkpoint was written keep their defaults.
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            warmupSteps = try c.decodeIfPresent(Int.self, forKey: .warmupSteps) ?? warmupSteps
        }
    }

    /// How the gradients are summed over the ranks. Overlapped or not, the sums are bit for bit the same;
    /// compressed, they are other bits, still the same on every rank.
    public struct Allreduce: Equatable, Sendable, Codable {
        /// Buckets of layers, each summed while the backward pass goes on (PyTorch DDP's design); false: one
        /// allreduce of the whole buffer after the backward pass.
        public var overlap = true
        /// A bucket closes once it holds this many KiB of gradients.
        public var bucketKB = 64
        /// What the gradients travel as: floats, or 16 bits (half the bytes), every partial sum rounded.
        public var compression = AllreduceCompression.none
        /// How the sum moves: the same bits either way, in fewer bytes or fewer rounds.
        public var algorithm = AllreduceAlgorithm.auto

        enum CodingKeys: String, CodingKey { case overlap, bucketKB = "bucket_kb", compression, algorithm }

        public init() {}

        /// Keys added after a checkpoint was written keep their defaults.
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            overlap = try c.decode(Bool.self, forKey: .overlap)
            bucketKB = try c.decode(Int.self, forKey: .bucketKB)
            compression = try c.decodeIfPresent(AllreduceCompression.self, forKey: .compression) ?? compression
            algorithm = try c.decodeIfPresent(AllreduceAlgorithm.self, forKey: .algorithm) ?? algorithm
        }
    }

    public struct Output: Equatable, Sendable, Codable {
        public var directory = "runs/fashion-mnist"

        enum CodingKeys: String, CodingKey { case directory = "dir" }
    }

    public struct Checkpointing: Equatable, Sendable, Codable {
        /// Write a checkpoint every this many optimizer steps; 0 turns it off.
        public var everySteps = 0
        /// Write a checkpoint every this many epochs; 0 turns it off. One is always written at the end.
        public var everyEpochs = 1
        /// How many of the newest checkpoints to keep.
        public var keep = 3

        enum CodingKeys: String, CodingKey { case everySteps = "every_steps", everyEpochs = "every_epochs", keep }
    }

    public struct Samples: Equatable, Sendable, Codable {
        /// Rank 0 writes sample images every this many epochs; 0: only at the end. Always at the end.
        public var everyEpochs = 1

        enum CodingKeys: String, CodingKey { case everyEpochs = "every_epochs" }
    }

    /// Checks that catch a stalled rank and ranks drifting apart without an error.
    public struct Watchdog: Equatable, Sendable, Codable {
        /// Every this many steps the ranks compare a hash of their weights; 0 turns it off.
        public var checkEverySteps = 1000
        /// A rank that waits this long for its peers in a collective, or makes no progress of its own for
        /// this long, ends the job; 0 turns it off.
        public var timeoutSeconds = 300.0

        enum CodingKeys: String, CodingKey { case checkEverySteps = "check_every_steps", timeoutSeconds = "timeout_s" }

        public init() {}

        /// Keys added after a checkpoint was written keep their defaults.
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            checkEverySteps = try c.decode(Int.self, forKey: .checkEverySteps)
            timeoutSeconds = try c.decodeIfPresent(Double.self, forKey: .timeoutSeconds) ?? timeoutSeconds
        }
    }

    public var model = Architecture.gdlDigits
    public var data = Data()
    public var training = Training()
    public var schedule = Schedule()
    public var allreduce = Allreduce()
    public var output = Output()
    public var checkpoint = Checkpointing()
    public var samples = Samples()
    public var watchdog = Watchdog()

    enum CodingKeys: String, CodingKey { case model, data, training, schedule, allreduce, output, checkpoint, samples, watchdog }

    public init() {}

    /// Sections added after a checkpoint was written keep their defaults.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.decode(Architecture.self, forKey: .model)
        data = try c.decode(Data.self, forKey: .data)
        training = try c.decode(Training.self, forKey: .training)
        schedule = try c.decodeIfPresent(Schedule.self, forKey: .schedule) ?? schedule
        allreduce = try c.decode(Allreduce.self, forKey: .allreduce)
        output = try c.decode(Output.self, forKey: .output)
        checkpoint = try c.decode(Checkpointing.self, forKey: .checkpoint)
        samples = try c.decode(Samples.self, forKey: .samples)
        watchdog = try c.decodeIfPresent(Watchdog.self, forKey: .watchdog) ?? watchdog
    }

    /// Every setting that shapes the trajectory: the config without its output, checkpoint and samples
    /// sections, which ranks may not share (only rank 0 writes files), nor the node-local cache's place.
    public var trajectorySettings: TrainingConfig {
        var settings = self
        settings.output = Output()
        settings.data.cacheDirectory = Data().cacheDirectory
        settings.checkpoint = Checkpointing()
        settings.samples = Samples()
        return settings
    }

    /// The learning rate of every step: training's rate and step decay, with the schedule's warm-up.
    public var learningRates: StepDecaySchedule {
        StepDecaySchedule(initialRate: Float(training.learningRate), decayFactor: Float(training.lrDecay),
                          stepSize: training.lrStepSize, warmupSteps: schedule.warmupSteps)
    }
}
