// `vae bench`: warm-up steps, then timed steps of the trainer's own loop on the real data, or with
// --synthetic on random in-memory images of the config's input shape (no files), alone or under mpirun;
// rank 0 prints one JSON line. Defaults match launch/bench/peers/*_vae.py: batch 32 per rank, z 2, the first
// 20,000 Fashion-MNIST images, 20 warm-up and 200 timed steps.

import ArgumentParser
import Foundation
import VAECommunication
import VAEConfig
import VAEData
import VAESupport
import VAETraining

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Time real training steps and print one JSON line.")

    @OptionGroup var settings: ConfigOptions

    @Option(help: "Images per rank per step.") var batchPerRank = 32
    @Option(help: "Timed steps.") var steps = 200
    @Option(help: "Untimed steps first.") var warmup = 20
    @Option(help: "Training images to load (default 20000; 0: all), or to make with --synthetic (default: as many as the steps take, at most \(Bench.syntheticCap), at least one global batch).")
    var limit: Int?
    @Flag(help: "Copy a folder's images from its mapped cache into memory first, as an IDX file's are.") var inMemory = false
    @Flag(help: "Time on random images of the config's input shape made in memory, reading no data file or folder.") var synthetic = false

    @Option(help: "Link rates in Gbit/s, comma-separated: after the measurement, predict the step on these links (see --predict-nodes).")
    var linkGbit: String?
    @Option(help: "Node counts (one rank each) to predict for, comma-separated (default: this run's rank count).")
    var predictNodes: String?

    /// Synthetic images cycle through epochs like real ones; more than this would only cost memory (25 MB of faces).
    static let syntheticCap = 512

    func validate() throws {
        guard steps > 0 else { throw ValidationError("--steps \(steps): must be at least 1") }
        guard warmup >= 0 else { throw ValidationError("--warmup \(warmup): must be at least 0") }
        guard batchPerRank > 0 else { throw ValidationError("--batch-per-rank \(batchPerRank): must be at least 1") }
        if let limit, limit < 0 || (limit == 0 && synthetic) {
            throw ValidationError("--limit \(limit): must be at least 1" + (synthetic ? " with --synthetic" : ", or 0 for all"))
        }
        if synthetic && inMemory { throw ValidationError("--synthetic images are in memory already; leave out --in-memory") }
        if let linkGbit, Self.numbers(linkGbit)?.allSatisfy({ $0 > 0 }) != true {
            throw ValidationError("--link-gbit \(linkGbit): positive numbers, comma-separated")
        }
        if let predictNodes, Self.numbers(predictNodes)?.allSatisfy({ $0 >= 1 && $0.rounded() == $0 }) != true {
            throw ValidationError("--predict-nodes \(predictNodes): whole numbers from 1, comma-separated")
        }
        if predictNodes != nil && linkGbit == nil { throw ValidationError("--predict-nodes needs --link-gbit") }
    }

    private static func numbers(_ list: String) -> [Double]? {
        let values = list.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        return values.isEmpty || values.contains(nil) ? nil : values.compactMap { $0 }
    }

    func run() throws {
        let launched = ContinuousClock.now
        let communicator = try joinRanks()
        try reportingErrors(communicator) {
            var config = try settings.load(warnings: communicator.rank == 0)
            let globalBatch = batchPerRank * communicator.size
            config.training.batchSize = globalBatch
            config.data.limit = limit ?? (synthetic ? max(globalBatch, min((warmup + steps) * globalBatch, Bench.syntheticCap)) : 20_000)
            let threads = setMathThreads(localRanks: communicator.localSize, convolutions: config.training.convBackend)
            var trainer: Trainer
            if synthetic {
                let m = config.architecture
                let images = ImageDataset(synthetic: config.data.limit, imageShape: [m.inputHeight, m.inputWidth, m.inputChannels],
                                          seed: UInt64(config.training.seed))
                trainer = try Trainer(config: config, dataset: images, communicator: communicator)
            } else {
                trainer = try Trainer(config: config, communicator: communicator)
                if inMemory { trainer = try Trainer(config: config, dataset: trainer.dataset.copiedIntoMemory(), communicator: communicator) }
            }
            try trainer.synchronizeRanks()
            var startup = 0.0
            try trainer.train(steps: 0..<warmup) { step, _ in if step == 0 { startup = launched.secondsElapsed } }
            try communicator.barrier()
            let timedStart = ContinuousClock.now
            var waits: [Double] = [], before = trainer.allreduceSeconds, sentBefore = communicator.bytesSent
            waits.reserveCapacity(steps)
            try trainer.train(steps: warmup..<(warmup + steps)) { step, _ in
                if step == 0 { startup = launched.secondsElapsed }
                waits.append(trainer.allreduceSeconds - before)
                before = trainer.allreduceSeconds
            }
            try communicator.barrier()
            let elapsed = timedStart.secondsElapsed
            let sentPerStep = Double(communicator.bytesSent - sentBefore) / Double(steps)
            // A step's allreduce time on a rank is communication plus waiting for slower ranks; the rank
            // that arrived last waited for communication alone, so the step's minimum is what no rank hid.
            let everyRank = try communicator.allgather(waits.withUnsafeBytes(Array.init)).map { bytes in
                bytes.withUnsafeBytes { Array($0.bindMemory(to: Double.self)) }
            }
            let exposed = (0..<steps).map { step in everyRank.map { $0[step] }.min()! }.reduce(0, +)
            let allreduce = everyRank.map { $0.reduce(0, +) }.reduce(0, +) / Double(communicator.size)
            let images = Double(steps * config.training.batchSize)
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            let flopsPerImage = 6.0 * Double(config.architecture.forwardMultiplyAdds)  // forward 2·MACs, backward twice that
            guard communicator.rank == 0 else { return }
            let result = BenchResult(
                backend: config.training.convBackend.rawValue, data: synthetic ? "synthetic" : trainer.dataset.names.isEmpty ? "idx" : inMemory ? "folder in memory" : "folder, mapped cache", ranks: communicator.size, threadsPerRank: threads,
                batchPerRank: batchPerRank, microBatch: config.training.microBatch, zDim: config.model.zDim, steps: steps, warmup: warmup,
                imagesPerSecond: rounded(images / elapsed, 1), stepMilliseconds: rounded(elapsed * 1000 / Double(steps), 3),
                gigaflopsPerSecond: rounded(images * flopsPerImage / elapsed / 1e9, 1),
                allreduce: config.allreduce.overlap ? "overlapped" : "fused", buckets: trainer.bucketCount, compression: config.allreduce.compression.rawValue,
                algorithm: config.allreduce.algorithm.rawValue, sentMegabytesPerStep: rounded(sentPerStep / 1e6, 3),
                allreduceMilliseconds: rounded(allreduce * 1000 / Double(steps), 3), exposedCommFraction: rounded(exposed / elapsed, 4),
                syncWaitFraction: rounded((allreduce - exposed) / elapsed, 4), peakRSSMegabytes: rounded(Double(usage.ru_maxrss) / 1024, 1),
                launchToFirstStepSeconds: rounded(startup, 3))
            printLine(try JSON.line(result))
            guard let linkGbit else { return }
            // This run's compute: its step less the time it spent in the sums' calls, hidden or not.
            let model = CostModel(computeSeconds: (elapsed - allreduce) / Double(steps),
                                  bucketFloats: trainer.bucketFloats, compression: config.allreduce.compression, algorithm: config.allreduce.algorithm)
            for gigabits in Self.numbers(linkGbit)! {
                for nodes in predictNodes.map({ Self.numbers($0)!.map { Int($0) } }) ?? [communicator.size] {
                    let link = CostModel.Link(gigabitsPerSecond: gigabits), step = model.stepSeconds(ranks: nodes, link: link)
                    printLine(try JSON.line(Prediction(
                        nodes: nodes, linkGbit: gigabits, stepMilliseconds: rounded(step * 1000, 3),
                        communicationMilliseconds: rounded(model.communicationSeconds(ranks: nodes, link: link) * 1000, 3),
                        imagesPerSecond: rounded(Double(nodes * batchPerRank) / step, 1), scaling: rounded(model.scaling(ranks: nodes, link: link), 4),
                        measuredStepMilliseconds: nodes == communicator.size ? result.stepMilliseconds : nil)))
                }
            }
        }
    }

    private func rounded(_ value: Double, _ digits: Int) -> Double {
        let scale = pow(10, Double(digits))
        return (value * scale).rounded() / scale
    }
}

/// A line of `vae bench --link-gbit`: the cost model's step for N nodes of one rank each.
struct Prediction: Encodable {
    var prediction = "alpha-beta"
    let nodes: Int
    let linkGbit, stepMilliseconds, communicationMilliseconds, imagesPerSecond, scaling: Double
    /// This run's step, beside the prediction for its own rank count.
    let measuredStepMilliseconds: Double?

    enum CodingKeys: String, CodingKey {
        case prediction, nodes, linkGbit = "link_gbit", stepMilliseconds = "step_ms", communicationMilliseconds = "comm_ms"
        case imagesPerSecond = "images_per_s", scaling, measuredStepMilliseconds = "measured_step_ms"
    }
}

/// The line `vae bench` prints; the keys are those of launch/bench/peers' scripts where they overlap.
struct BenchResult: Encodable {
    var peer = "swift-vae"
    let backend, data: String
    let ranks, threadsPerRank, batchPerRank, microBatch, zDim, steps, warmup: Int
    let imagesPerSecond, stepMilliseconds, gigaflopsPerSecond: Double
    let allreduce: String
    let buckets: Int
    let compression, algorithm: String
    /// The payload this rank's sums sent per step (rank 0's).
    let sentMegabytesPerStep: Double
    let allreduceMilliseconds, exposedCommFraction, syncWaitFraction, peakRSSMegabytes, launchToFirstStepSeconds: Double

    enum CodingKeys: String, CodingKey {
        case peer, backend, data, ranks, threadsPerRank = "threads_per_rank", batchPerRank = "batch_per_rank", microBatch = "micro_batch"
        case zDim = "z_dim", steps, warmup, imagesPerSecond = "images_per_s", stepMilliseconds = "step_ms"
        case gigaflopsPerSecond = "gflops_per_s", allreduce, buckets, compression, algorithm, sentMegabytesPerStep = "sent_mb_per_step"
        case allreduceMilliseconds = "allreduce_ms"
        case exposedCommFraction = "exposed_comm_fraction", syncWaitFraction = "sync_wait_fraction", peakRSSMegabytes = "peak_rss_mb"
        case launchToFirstStepSeconds = "launch_to_first_step_s"
    }
}
