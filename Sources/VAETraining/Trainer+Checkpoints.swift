// The Trainer's agreements: with its checkpoint (restoring one, and what one records)
// and between its ranks (one config, rank 0's weights, rank 0's progress and Adam state everyone's).

import Crypto
import Foundation
import VAECheckpoint
import VAESupport

extension Trainer {
    func restore(_ checkpoint: LoadedCheckpoint) throws {
        let saved = checkpoint.state.config
        guard saved.model == config.model else {
            let differences = zip(saved.settings(in: "model"), config.settings(in: "model")).compactMap { then, now in
                then.value == now.value ? nil : "\(then.key) is \(then.value) in the checkpoint, \(now.value) in the config"
            }
            throw VAEError("\(checkpoint.path): the checkpoint's model differs from the config's: \(differences.joined(separator: "; "))")
        }
        guard checkpoint.state.globalBatch == config.training.batchSize, checkpoint.state.seed == config.training.seed else {
            throw VAEError("\(checkpoint.path): the checkpoint was trained with batch_size \(checkpoint.state.globalBatch) and seed \(checkpoint.state.seed); the config says \(config.training.batchSize) and \(config.training.seed)")
        }
        try Checkpoint.restore(checkpoint, model: model, optimizer: optimizer, average: average)
    }

    /// Rank 0's step count (and Adam's step count and moments, and the weights' average) become everyone's;
    /// returns the first step to take.
    func broadcastProgress(_ step: Int) throws -> Int {
        var numbers = [step, optimizer.step]
        try numbers.withUnsafeMutableBytes { try communicator.broadcast($0, root: 0) }
        optimizer.step = numbers[1]
        try communicator.broadcast(UnsafeMutableRawBufferPointer(optimizer.firstMoment), root: 0)
        try communicator.broadcast(UnsafeMutableRawBufferPointer(optimizer.secondMoment), root: 0)
        if let average { try communicator.broadcast(UnsafeMutableRawBufferPointer(average.values), root: 0) }
        return numbers[0]
    }

    /// What a checkpoint after `done` steps records of the run's progress.
    func checkpointState(after done: Int) -> CheckpointState {
        let (epoch, stepInEpoch) = cadence.epoch(of: done)
        return CheckpointState(step: done, epoch: epoch, stepInEpoch: stepInEpoch, seed: config.training.seed, worldSize: communicator.size,
                               globalBatch: sampler.globalBatch, learningRate: learningRate(step: done), config: config)
    }

    /// Rank 0's parameters become everyone's, after checking that every rank resolved the same config.
    public func synchronizeRanks() throws {
        let differing = try ranksDifferingFromRankZero(Array(SHA256.hash(data: Array(config.trajectorySettings.yaml.utf8))))
        guard differing.isEmpty else {
            throw VAEError("the resolved config differs between rank 0 and \(rankList(differing)); every rank must train the same model on the same settings")
        }
        let p = model.parameters
        try communicator.broadcast(UnsafeMutableRawBufferPointer(p.valueBuffer), root: 0)
        try communicator.broadcast(UnsafeMutableRawBufferPointer(p.stateBuffer), root: 0)
    }
}
