// Reading state.json of every format version this build knows: 3 as written today, 2 (the same, with the
// learning-rate settings under their old keys, which the config's reader still takes), and 1 (camelCase keys,
// the model as height/width/channels and a list of layers, some sections not yet there), migrated on read.

import Foundation
import VAEConfig
import VAEMath
import VAESupport

extension CheckpointState {
    /// The state in a state.json's bytes; `path` begins every error message, each a VAEError.
    public static func decode(_ data: Data, path: String) throws -> CheckpointState {
        let state: CheckpointState
        do { state = try decodeAnyVersion(data, path: path) } catch let error as VAEError { throw error } catch {
            throw VAEError("\(path): not a valid checkpoint state file (\(error.localizedDescription))")
        }
        try state.check(path: path)
        return state
    }

    /// state.json is not under the checksums, so what it says is checked as a config file would be: no
    /// negative counts (its config was read by the config's reader, which checks every setting).
    private func check(path: String) throws {
        let counts = [("step", step, 0), ("epoch", epoch, 0), ("step_in_epoch", stepInEpoch, 0), ("world_size", worldSize, 1), ("global_batch", globalBatch, 1)]
        for (key, value, least) in counts where value < least {
            throw VAEError("\(path): \(key) is \(value); it must be at least \(least)")
        }
    }

    private static func decodeAnyVersion(_ data: Data, path: String) throws -> CheckpointState {
        struct Version: Decodable {
            let current: Int?, legacy: Int?
            enum CodingKeys: String, CodingKey { case current = "format_version", legacy = "formatVersion" }
        }
        switch try JSON.decode(Version.self, from: data) {
        case let v where v.current == currentFormatVersion || v.current == 2:
            do { return try JSON.decode(CheckpointState.self, from: data) } catch let error as VAEError { throw VAEError("\(path): config: \(error.message)") }
        case let v where v.legacy == 1 && v.current == nil: return try JSON.decode(VersionOne.self, from: data).migrated
        case let v:
            let version = v.current ?? v.legacy
            throw VAEError("\(path): checkpoint format version \(version.map(String.init) ?? "(none)") is not supported (this build reads versions 1 to \(currentFormatVersion))")
        }
    }
}

/// state.json as format version 1 wrote it; keys added later take their defaults.
private struct VersionOne: Decodable {
    struct Layer: Decodable { let filters, kernel, stride: Int }
    struct Model: Decodable {
        let inputHeight, inputWidth, inputChannels: Int
        let encoder, decoder: [Layer]
        let zDim: Int
        let useBatchNorm, useDropout: Bool
        let dropoutRate: Float
    }
    struct DataSection: Decodable { let train, test: String; let testLabels: String?; let limit: Int }
    struct Training: Decodable {
        let seed, epochs, batchSize, microBatch: Int
        let learningRate, rLossFactor, lrDecay: Double
        let lrStepSize, logEverySteps: Int
    }
    struct Allreduce: Decodable { let overlap: Bool; let bucketKB: Int }
    struct Output: Decodable { let directory: String }
    struct Checkpointing: Decodable { let everySteps, everyEpochs, keep: Int }
    struct Samples: Decodable { let everyEpochs: Int }
    struct Config: Decodable {
        let model: Model, data: DataSection, training: Training, allreduce: Allreduce?, output: Output
        let checkpoint: Checkpointing, samples: Samples?
    }

    let step, epoch, stepInEpoch, seed, worldSize, globalBatch: Int
    let learningRate: Float
    let config: Config
    let checksums: [String: String]

    var migrated: CheckpointState {
        let c = config
        var settings = TrainingConfig()
        let layers = { (layers: [Layer]) in layers.map { ConvSpec(filters: $0.filters, kernel: $0.kernel, stride: $0.stride) } }
        settings.architecture = Architecture(inputHeight: c.model.inputHeight, inputWidth: c.model.inputWidth, inputChannels: c.model.inputChannels,
                                      encoder: layers(c.model.encoder), decoder: layers(c.model.decoder), zDim: c.model.zDim,
                                      useBatchNorm: c.model.useBatchNorm, useDropout: c.model.useDropout, dropoutRate: c.model.dropoutRate)
        (settings.data.train, settings.data.test, settings.data.limit) = (c.data.train, c.data.test, c.data.limit)
        settings.data.testLabels = c.data.testLabels ?? settings.data.testLabels
        let t = c.training
        (settings.training.seed, settings.training.epochs, settings.training.batchSize) = (t.seed, t.epochs, t.batchSize)
        (settings.training.microBatch, settings.learningRate.base, settings.loss.rLossFactor) = (t.microBatch, t.learningRate, t.rLossFactor)
        (settings.learningRate.decay, settings.learningRate.decayEveryEpochs, settings.training.logEverySteps) = (t.lrDecay, t.lrStepSize, t.logEverySteps)
        if let a = c.allreduce { (settings.allreduce.overlap, settings.allreduce.bucketKB) = (a.overlap, a.bucketKB) }
        settings.output.directory = c.output.directory
        (settings.checkpoint.everySteps, settings.checkpoint.everyEpochs, settings.checkpoint.keep) = (c.checkpoint.everySteps, c.checkpoint.everyEpochs, c.checkpoint.keep)
        if let s = c.samples { settings.samples.everyEpochs = s.everyEpochs }
        return CheckpointState(step: step, epoch: epoch, stepInEpoch: stepInEpoch, seed: seed, worldSize: worldSize, globalBatch: globalBatch,
                               learningRate: learningRate, config: settings, checksums: checksums)
    }
}
