// `vae bench`: warm-up steps, then timed steps of real training on the real data, alone or under mpirun;
// rank 0 prints one JSON line. Defaults match ../shared/bench/*_vae.py: batch 32 per rank, z 2,
// the first 20,000 Fashion-MNIST images, 20 warm-up and 200 timed steps.

import ArgumentParser
import CBLAS
import Foundation
import VAECommunication
import VAEConfig
import VAEMath
import VAESupport
import VAETraining

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Time real training steps and print one JSON line.")

    @Option(help: "The YAML config file (its model and data; batch and steps come from the options below).")
    var config = "configs/fashion-mnist.yaml"

    @Option(name: .customLong("set"), help: "Override a config value: key.path=value (repeatable).")
    var overrides: [String] = []

    @Option(help: "Images per rank per step.") var batchPerRank = 32
    @Option(help: "Timed steps.") var steps = 200
    @Option(help: "Untimed steps first.") var warmup = 20
    @Option(help: "Training images to load.") var limit = 20_000

    func run() throws {
        let launched = ContinuousClock.now
        let communicator = try joinRanks()
        try reportingErrors(communicator) {
            var settings = try TrainingConfig.load(path: config, overrides: overrides)
            settings.training.batchSize = batchPerRank * communicator.size
            settings.data.limit = limit
            guard steps > 0, warmup >= 0, batchPerRank > 0 else { throw VAEError("bench: --steps, --batch-per-rank must be positive") }
            try checkConvolutionBackend()
            setMathThreads(localRanks: communicator.localSize)
            let trainer = try Trainer(config: settings, communicator: communicator)
            try trainer.synchronizeRanks()
            let sampler = trainer.sampler
            var order = sampler.order(epoch: 0), epoch = 0, startup = 0.0
            var timedStart = ContinuousClock.now, waits: [Double] = []
            waits.reserveCapacity(steps)
            for step in 0..<(warmup + steps) {
                if step == warmup {
                    try communicator.barrier()
                    timedStart = ContinuousClock.now
                }
                let allreduceBefore = trainer.allreduceSeconds
                let inEpoch = step % sampler.stepsPerEpoch
                if inEpoch == 0 && step > 0 { epoch += 1; order = sampler.order(epoch: epoch) }
                let indices = sampler.indices(in: order, step: inEpoch, rank: communicator.rank, worldSize: communicator.size)
                _ = try trainer.trainStep(epoch: epoch, step: inEpoch, indices: indices, learningRate: settings.schedule.learningRate(epoch: 0))
                if step == 0 { startup = seconds(launched) }
                if step >= warmup { waits.append(trainer.allreduceSeconds - allreduceBefore) }
            }
            try communicator.barrier()
            let elapsed = seconds(timedStart)
            // A step's allreduce time on a rank is communication plus waiting for slower ranks; the rank
            // that arrived last waited for communication alone, so the step's minimum is what no rank hid.
            let everyRank = try communicator.allgather(waits.withUnsafeBytes(Array.init)).map { bytes in
                bytes.withUnsafeBytes { Array($0.bindMemory(to: Double.self)) }
            }
            let exposed = (0..<steps).map { step in everyRank.map { $0[step] }.min()! }.reduce(0, +)
            let allreduce = everyRank.map { $0.reduce(0, +) }.reduce(0, +) / Double(communicator.size)
            let images = Double(steps * settings.training.batchSize)
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            let flopsPerImage = 6.0 * Double(settings.model.forwardMultiplyAdds)  // forward 2·MACs, backward twice that
            guard communicator.rank == 0 else { return }
            let fields: [(String, String)] = [
                ("peer", "\"swift-vae\""), ("backend", "\"\(ConvolutionBackend.default.rawValue)\""), ("ranks", "\(communicator.size)"), ("threads_per_rank", "\(openblas_get_num_threads())"),
                ("batch_per_rank", "\(batchPerRank)"), ("micro_batch", "\(settings.training.microBatch)"), ("z_dim", "\(settings.model.zDim)"),
                ("steps", "\(steps)"), ("warmup", "\(warmup)"),
                ("images_per_s", format(images / elapsed, 1)), ("step_ms", format(elapsed * 1000 / Double(steps), 3)),
                ("gflops_per_s", format(images * flopsPerImage / elapsed / 1e9, 1)),
                ("allreduce", settings.allreduce.overlap ? "\"overlapped\"" : "\"fused\""), ("buckets", "\(trainer.bucketCount)"),
                ("allreduce_ms", format(allreduce * 1000 / Double(steps), 3)),
                ("exposed_comm_fraction", format(exposed / elapsed, 4)),
                ("sync_wait_fraction", format((allreduce - exposed) / elapsed, 4)),
                ("peak_rss_mb", format(Double(usage.ru_maxrss) / 1024, 1)), ("launch_to_first_step_s", format(startup, 3)),
            ]
            printLine("{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")
        }
    }

    private func seconds(_ start: ContinuousClock.Instant) -> Double {
        let d = start.duration(to: .now)
        return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }

    private func format(_ value: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", value) }
}
