// Checkpoint: one directory per checkpoint under OUT/checkpoints/step-NNNNNNNN/, holding
//   model.safetensors      every parameter and batch-norm statistic by name (F32)
//   ema.safetensors        with training.ema_decay: the weights' moving average, by the same names
//   optimizer.safetensors  Adam's moments (by the same names) and its step count
//   state.json             format version, progress, seed, world size, the resolved config, validation
//                          losses, checksums
// Rank 0 writes it into a temporary directory, fsyncs, renames it into place, then repoints
// OUT/checkpoints/latest; so a crash at any moment leaves the previous checkpoint whole. Weights with a NaN
// or an infinity are refused: resuming from them could only go on producing NaN. With checkpoint.keep_best,
// the checkpoint of the lowest validation loss is also kept as best-step-N (hard links), `best` naming it;
// pruning and --resume see only the step-N directories.

import Crypto
import Foundation
import VAEConfig
import VAEMath
import VAESupport

public struct CheckpointState: Codable, Equatable, Sendable {
    /// 3: the config as its YAML reads, every setting (TrainingConfig.settingsTree); 2 (read only): the
    /// learning-rate settings under their old keys; 1 (read only): camelCase keys.
    public static let currentFormatVersion = 3

    public var formatVersion = CheckpointState.currentFormatVersion
    /// Optimizer steps completed.
    public var step: Int
    /// The epoch in progress and the steps of it already taken (stepInEpoch == stepsPerEpoch: epoch done).
    public var epoch: Int
    public var stepInEpoch: Int
    public var seed: Int
    public var worldSize: Int
    public var globalBatch: Int
    public var learningRate: Float
    public var config: TrainingConfig
    /// The mean validation loss of these weights, when it was measured at this step; and the lowest measured
    /// in the run so far, this one included, which a resumed run's keep_best goes on from.
    public var validationLoss: Double?, bestValidationLoss: Double?
    /// SHA-256 of each file of the checkpoint, by file name.
    public var checksums: [String: String]

    enum CodingKeys: String, CodingKey {
        case formatVersion = "format_version", step, epoch, stepInEpoch = "step_in_epoch", seed, worldSize = "world_size"
        case globalBatch = "global_batch", learningRate = "learning_rate", config, checksums
        case validationLoss = "validation_loss", bestValidationLoss = "best_validation_loss"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        formatVersion = try c.decode(Int.self, forKey: .formatVersion)
        (step, epoch, stepInEpoch) = (try c.decode(Int.self, forKey: .step), try c.decode(Int.self, forKey: .epoch), try c.decode(Int.self, forKey: .stepInEpoch))
        (seed, worldSize, globalBatch) = (try c.decode(Int.self, forKey: .seed), try c.decode(Int.self, forKey: .worldSize), try c.decode(Int.self, forKey: .globalBatch))
        learningRate = try c.decode(Float.self, forKey: .learningRate)
        // Read as a config file is, so that old keys and settings added since keep working.
        config = try TrainingConfig(c.decode(ConfigTree.self, forKey: .config))
        validationLoss = try c.decodeIfPresent(Double.self, forKey: .validationLoss)
        bestValidationLoss = try c.decodeIfPresent(Double.self, forKey: .bestValidationLoss)
        checksums = try c.decode([String: String].self, forKey: .checksums)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(formatVersion, forKey: .formatVersion)
        try c.encode(step, forKey: .step)
        try c.encode(epoch, forKey: .epoch)
        try c.encode(stepInEpoch, forKey: .stepInEpoch)
        try c.encode(seed, forKey: .seed)
        try c.encode(worldSize, forKey: .worldSize)
        try c.encode(globalBatch, forKey: .globalBatch)
        try c.encode(learningRate, forKey: .learningRate)
        try c.encode(JSONTree(config.settingsTree), forKey: .config)
        try c.encodeIfPresent(validationLoss, forKey: .validationLoss)
        try c.encodeIfPresent(bestValidationLoss, forKey: .bestValidationLoss)
        try c.encode(checksums, forKey: .checksums)
    }

    public init(step: Int, epoch: Int, stepInEpoch: Int, seed: Int, worldSize: Int, globalBatch: Int, learningRate: Float,
                config: TrainingConfig, checksums: [String: String] = [:]) {
        self.step = step
        self.epoch = epoch
        self.stepInEpoch = stepInEpoch
        self.seed = seed
        self.worldSize = worldSize
        self.globalBatch = globalBatch
        self.learningRate = learningRate
        self.config = config
        self.checksums = checksums
    }
}

public struct LoadedCheckpoint {
    public let path: String
    public let state: CheckpointState
    public let model: SafetensorsFile
    public let optimizer: SafetensorsFile
    /// The weights' moving average, when the run kept one.
    public var average: SafetensorsFile?

    public init(path: String, state: CheckpointState, model: SafetensorsFile, optimizer: SafetensorsFile, average: SafetensorsFile? = nil) {
        (self.path, self.state, self.model, self.optimizer, self.average) = (path, state, model, optimizer, average)
    }
}

public enum Checkpoint {
    public static let modelFile = "model.safetensors"
    public static let optimizerFile = "optimizer.safetensors"
    public static let averageFile = "ema.safetensors"
    public static let stateFile = "state.json"

    public static func directory(of runDirectory: String) -> String { runDirectory + "/checkpoints" }

    public static func name(step: Int) -> String { String(format: "step-%08d", step) }

    /// Writes a checkpoint of `model`, `optimizer` and `average` (if any) and repoints `latest`; keeps the
    /// newest `keep`. Throws, writing nothing, when some weight is NaN or infinite.
    @discardableResult
    public static func write(runDirectory: String, model: VariationalAutoencoder, optimizer: Adam, average: WeightAverage? = nil,
                             state progress: CheckpointState, keep: Int) throws -> String {
        let root = directory(of: runDirectory)
        if let tensor = model.parameters.firstNonfiniteEntry {
            throw VAEError("\(root)/\(name(step: progress.step)): no checkpoint written: tensor \(tensor) holds NaN or infinite values")
        }
        try DurableFiles.createDirectory(root)
        let name = name(step: progress.step), final = root + "/" + name, temporary = root + "/.tmp-" + name
        // What a writer killed mid-checkpoint left behind: rank 0 is the only writer, so none is in progress.
        for stale in (try? FileManager.default.contentsOfDirectory(atPath: root))?.filter({ $0.hasPrefix(".tmp-") }) ?? [] {
            try? FileManager.default.removeItem(atPath: root + "/" + stale)
        }
        try DurableFiles.createDirectory(temporary)
        var files = [(modelFile, try ModelWeights.file(of: model).encoded()),
                     (optimizerFile, try optimizerFile(model: model, optimizer: optimizer).encoded())]
        if let average { files.append((averageFile, try ModelWeights.file(of: model, values: average.values.baseAddress!).encoded())) }
        var state = progress
        state.checksums = Dictionary(uniqueKeysWithValues: files.map { ($0.0, sha256Hex($0.1)) })
        do {
            for (name, bytes) in files { try DurableFiles.write(bytes, to: temporary + "/" + name) }
            try DurableFiles.write(Array(try JSON.pretty(state)), to: temporary + "/" + stateFile)
            try DurableFiles.syncDirectory(temporary)
        } catch {
            // A full disk, say: the half-written checkpoint goes; the previous one and `latest` were never touched.
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
        try? FileManager.default.removeItem(atPath: final)  // a same-step checkpoint from an earlier attempt
        guard rename(temporary, final) == 0 else {
            throw VAEError("\(final): cannot move the new checkpoint into place: \(String(cString: strerror(errno)))")
        }
        try DurableFiles.syncDirectory(root)
        try DurableFiles.replaceSymlink(at: root + "/latest", pointingTo: name)
        try prune(root, keep: keep)
        return final
    }

    /// Complete checkpoints (step-N directories) in `root`, oldest first.
    public static func all(in root: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return names.filter { $0.hasPrefix("step-") }.sorted().map { root + "/" + $0 }
    }

    private static func prune(_ root: String, keep: Int) throws {
        for old in all(in: root).dropLast(max(keep, 1)) {
            do { try FileManager.default.removeItem(atPath: old) } catch {
                throw VAEError("\(old): cannot remove an old checkpoint: \(error.localizedDescription)")
            }
        }
    }

    /// Reads and verifies a checkpoint directory: every file present, checksums matching, a known format.
    public static func read(_ path: String) throws -> LoadedCheckpoint {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw VAEError("\(path): no such checkpoint directory")
        }
        let statePath = path + "/" + stateFile
        let stateBytes = try DurableFiles.read(statePath)
        let state = try CheckpointState.decode(Data(stateBytes), path: statePath)
        func verified(_ name: String) throws -> SafetensorsFile {
            let file = path + "/" + name
            let bytes = try DurableFiles.read(file)
            guard let expected = state.checksums[name] else { throw VAEError("\(statePath): no checksum for \(name)") }
            guard sha256Hex(bytes) == expected else {
                throw VAEError("\(file): checksum mismatch: the file is corrupt or truncated")
            }
            return try SafetensorsFile(bytes: bytes, source: file)
        }
        return LoadedCheckpoint(path: path, state: state, model: try verified(modelFile), optimizer: try verified(optimizerFile),
                                average: state.checksums[averageFile] == nil ? nil : try verified(averageFile))
    }

    /// Keeps the checkpoint at `path` (a step-N directory) as the run's best too: best-step-N, hard links to
    /// its files, then `best` names it and the best before it goes. Returns best-step-N's path.
    @discardableResult
    public static func keepAsBest(_ path: String) throws -> String {
        let root = (path as NSString).deletingLastPathComponent, name = "best-" + (path as NSString).lastPathComponent
        let final = root + "/" + name, temporary = root + "/.tmp-" + name
        try? FileManager.default.removeItem(atPath: temporary)
        try DurableFiles.createDirectory(temporary)
        for file in try FileManager.default.contentsOfDirectory(atPath: path) {
            guard link(path + "/" + file, temporary + "/" + file) == 0 else {
                throw VAEError("\(temporary)/\(file): cannot link the best checkpoint's file: \(String(cString: strerror(errno)))")
            }
        }
        try DurableFiles.syncDirectory(temporary)
        try? FileManager.default.removeItem(atPath: final)
        guard rename(temporary, final) == 0 else {
            throw VAEError("\(final): cannot move the best checkpoint into place: \(String(cString: strerror(errno)))")
        }
        try DurableFiles.syncDirectory(root)
        try DurableFiles.replaceSymlink(at: root + "/best", pointingTo: name)
        for older in ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []) where older.hasPrefix("best-step-") && older != name {
            try? FileManager.default.removeItem(atPath: root + "/" + older)
        }
        return final
    }

    /// The newest checkpoint under `runDirectory` that reads and verifies; `warn` hears about each skipped one.
    public static func newestValid(runDirectory: String, warn: (String) -> Void) throws -> LoadedCheckpoint {
        let root = directory(of: runDirectory)
        let candidates = all(in: root).reversed()
        guard !candidates.isEmpty else { throw VAEError("\(root): no checkpoint to resume from") }
        for candidate in candidates {
            do { return try read(candidate) } catch let error as VAEError {
                warn("warning: skipping checkpoint \(candidate): \(error.message)")
            }
        }
        throw VAEError("\(root): no valid checkpoint to resume from (all \(candidates.count) failed verification)")
    }

    /// Adam's moments as tensors named like the parameters they belong to, plus the step count.
    static func optimizerFile(model: VariationalAutoencoder, optimizer: Adam) -> SafetensorsFile {
        var tensors: [(name: String, shape: [Int], values: [Float])] = []
        for entry in model.parameters.entries where entry.trainable {
            let range = entry.slot.offset..<(entry.slot.offset + entry.slot.count)
            tensors.append(("m." + entry.name, entry.shape, Array(optimizer.firstMoment[range])))
            tensors.append(("v." + entry.name, entry.shape, Array(optimizer.secondMoment[range])))
        }
        return SafetensorsFile(tensors: tensors, metadata: ["step": "\(optimizer.step)", "optimizer": "adam"])
    }

    /// Restores a checkpoint's weights and optimizer state into `model` and `optimizer`, and its moving average
    /// into `average` (which starts again from the weights when the checkpoint kept none).
    public static func restore(_ checkpoint: LoadedCheckpoint, model: VariationalAutoencoder, optimizer: Adam,
                               average: WeightAverage? = nil) throws {
        try ModelWeights.load(checkpoint.model, into: model, source: checkpoint.path + "/" + modelFile)
        if let average {
            if let file = checkpoint.average {
                try ModelWeights.load(file, into: model.parameters, values: average.values.baseAddress!, source: checkpoint.path + "/" + averageFile)
            } else {
                _ = average.values.update(fromContentsOf: model.parameters.valueBuffer)
            }
        }
        let source = checkpoint.path + "/" + optimizerFile
        guard let step = checkpoint.optimizer.metadata["step"].flatMap(Int.init) else {
            throw VAEError("\(source): no step count in the metadata")
        }
        for entry in model.parameters.entries where entry.trainable {
            for (prefix, moment) in [("m.", optimizer.firstMoment), ("v.", optimizer.secondMoment)] {
                guard let tensor = checkpoint.optimizer.tensor(named: prefix + entry.name), tensor.shape == entry.shape else {
                    throw VAEError("\(source): tensor \(prefix + entry.name) is missing or has the wrong shape")
                }
                _ = UnsafeMutableBufferPointer(rebasing: moment[entry.slot.offset..<(entry.slot.offset + entry.slot.count)]).update(from: tensor.values)
            }
        }
        optimizer.step = step
    }
}

/// The SHA-256 digest of `bytes` in lowercase hex, as state.json records it.
func sha256Hex(_ bytes: [UInt8]) -> String {
    SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
}
