// MetricsLog: rank 0's `metrics.jsonl` in the run's output directory: one JSON object per log interval
// ("kind": "interval") and one per epoch ("kind": "epoch"). Keys keep a fixed order so lines diff cleanly.

import Foundation
import VAEMath
import VAESupport

public final class MetricsLog {
    public let path: String
    private let handle: FileHandle
    private let started = ContinuousClock.now

    /// Creates DIR/metrics.jsonl, or appends to it when resuming.
    public init(directory: String, appending: Bool = false) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw VAEError("output.dir: cannot create \(directory): \(error.localizedDescription)")
        }
        path = (directory as NSString).appendingPathComponent("metrics.jsonl")
        let exists = appending && FileManager.default.fileExists(atPath: path)
        guard exists || FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw VAEError("\(path): cannot create the metrics file")
        }
        if exists { handle.seekToEndOfFile() }
        self.handle = handle
    }

    deinit { try? handle.close() }

    public func recordInterval(step: Int, epoch: Int, loss: LossSums, learningRate: Float, seconds: Double, allreduceMilliseconds: Double) {
        write([("kind", "\"interval\""), ("step", "\(step)"), ("epoch", "\(epoch + 1)"), ("loss", number(loss.meanLoss)),
               ("reconstruction", number(loss.meanReconstruction)), ("kl", number(loss.meanKL)),
               ("learning_rate", "\(learningRate)"), ("images_per_s", number(Double(loss.samples) / max(seconds, 1e-9))),
               ("allreduce_ms", number(allreduceMilliseconds)), ("wall_s", number(started.secondsElapsed))])
    }

    /// `step`: the global step at the end of the report's steps.
    public func record(_ report: EpochReport, step: Int) {
        write([("kind", "\"epoch\""), ("step", "\(step)"), ("epoch", "\(report.epoch + 1)"), ("loss", number(report.loss.meanLoss)),
               ("reconstruction", number(report.loss.meanReconstruction)), ("kl", number(report.loss.meanKL)),
               ("learning_rate", "\(report.learningRate)"), ("images_per_s", number(report.imagesPerSecond)),
               ("allreduce_ms", number(report.allreduceMilliseconds ?? 0)), ("epoch_s", number(report.seconds)),
               ("wall_s", number(started.secondsElapsed))])
    }

    private func number(_ value: Double) -> String { value.isFinite ? "\(value)" : "null" }

    private func write(_ fields: [(String, String)]) {
        let line = "{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}\n"
        handle.write(Data(line.utf8))
    }
}
