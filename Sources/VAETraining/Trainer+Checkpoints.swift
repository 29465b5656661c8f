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

    /// Every rank at once, each with the checkpoint it would resume from (nil: none): the rank holding the
    /// newest (the lowest such rank), that checkpoint's path and its state, known to every rank; nil when no
    /// rank holds one. With checkpoint.replicas, a lost node's checkpoints live on in another's copies.
    func newestCheckpoint(_ mine: LoadedCheckpoint?) throws -> (rank: Int, path: String, step: Int)? {
        let pathBytes = 1024
        var record = withUnsafeBytes(of: Int64(mine?.state.step ?? -1)) { Array($0) }
        record += Array((mine?.path ?? "").utf8.prefix(pathBytes)) + [UInt8](repeating: 0, count: pathBytes)
        let everyRank = try communicator.allgather(Array(record.prefix(8 + pathBytes)))
        let steps = everyRank.map { $0.withUnsafeBytes { Int($0.loadUnaligned(as: Int64.self)) } }
        guard let newest = steps.max(), newest >= 0, let rank = steps.firstIndex(of: newest) else { return nil }
        return (rank, String(decoding: everyRank[rank].dropFirst(8).prefix { $0 != 0 }, as: UTF8.self), newest)
    }

    /// Rank `root`'s step count (and Adam's step count and moments, the weights' average, and the best
    /// validation loss so far) become everyone's; returns the first step to take and that loss.
    func broadcastProgress(from root: Int, _ step: Int, bestValidationLoss: Double?) throws -> (first: Int, bestValidationLoss: Double?) {
        var numbers = [step, optimizer.step, Int(bitPattern: UInt(bestValidationLoss?.bitPattern ?? Double.nan.bitPattern))]
        try numbers.withUnsafeMutableBytes { try communicator.broadcast($0, root: root) }
        optimizer.step = numbers[1]
        try communicator.broadcast(UnsafeMutableRawBufferPointer(optimizer.firstMoment), root: root)
        try communicator.broadcast(UnsafeMutableRawBufferPointer(optimizer.secondMoment), root: root)
        if let average { try communicator.broadcast(UnsafeMutableRawBufferPointer(average.values), root: root) }
        let best = Double(bitPattern: UInt64(UInt(bitPattern: numbers[2])))
        return (numbers[0], best.isNaN ? nil : best)
    }

    /// What a checkpoint after `done` steps records of the run's progress.
    func checkpointState(after done: Int) -> CheckpointState {
        let (epoch, stepInEpoch) = cadence.epoch(of: done)
        return CheckpointState(step: done, epoch: epoch, stepInEpoch: stepInEpoch, seed: config.training.seed, worldSize: communicator.size,
                               globalBatch: sampler.globalBatch, learningRate: learningRate(step: done), config: config)
    }

    /// Rank `root`'s parameters become everyone's, after checking that every rank resolved the same config.
    public func synchronizeRanks(from root: Int = 0) throws {
        let differing = try ranksDifferingFromRankZero(Array(SHA256.hash(data: Array(config.trajectorySettings.yaml.utf8))))
        guard differing.isEmpty else {
            throw VAEError("the resolved config differs between rank 0 and \(rankList(differing)); every rank must train the same model on the same settings")
        }
        let p = model.parameters
        try communicator.broadcast(UnsafeMutableRawBufferPointer(p.valueBuffer), root: root)
        try communicator.broadcast(UnsafeMutableRawBufferPointer(p.stateBuffer), root: root)
    }

    /// The ranks that keep a copy of every checkpoint besides rank 0 (checkpoint.replicas): the first rank of
    /// each next node, in rank order. Every rank at once.
    func replicaRanks() throws -> [Int] {
        guard config.checkpoint.replicas > 1 else { return [] }
        let firsts = try communicator.allgather([communicator.localRank == 0 ? 1 : 0])
        return Array(firsts.indices.filter { $0 != 0 && firsts[$0][0] == 1 }.prefix(config.checkpoint.replicas - 1))
    }
}
