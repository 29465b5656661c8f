// MetricsLog: rank 0's `metrics.jsonl` in the run's output directory: one MetricsRecord a line, per log
// interval ("kind": "interval") and per epoch ("kind": "epoch"). RunReport reads the records back.

import Foundation
import VAEMath
import VAEReport
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
        if !(appending && FileManager.default.fileExists(atPath: path)) { try DurableFiles.write([], to: path) }
        guard let handle = FileHandle(forWritingAtPath: path) else { throw VAEError("\(path): cannot open the metrics file") }
        handle.seekToEndOfFile()
        self.handle = handle
    }

    deinit { try? handle.close() }

    public func recordInterval(step: Int, epoch: Int, loss: LossSums, learningRate: Float, seconds: Double, allreduceMilliseconds: Double) {
        append(MetricsRecord(kind: .interval, step: step, epoch: epoch + 1, loss: loss, learningRate: learningRate,
                             imagesPerSecond: Double(loss.samples) / max(seconds, 1e-9), allreduceMilliseconds: allreduceMilliseconds,
                             wallSeconds: started.secondsElapsed))
    }

    /// `step`: the global step at the end of the report's steps.
    public func record(_ report: EpochReport, step: Int) {
        append(MetricsRecord(kind: .epoch, step: step, epoch: report.epoch + 1, loss: report.loss, learningRate: report.learningRate,
                             imagesPerSecond: report.imagesPerSecond, allreduceMilliseconds: report.allreduceMilliseconds ?? 0,
                             wallSeconds: started.secondsElapsed, epochSeconds: report.seconds, skippedSteps: report.skippedSteps))
    }

    /// The one file write of the project that does not go through `DurableFiles.write`: a line is appended, not
    /// the file rewritten (which would cost more at every line as the run grows), and not fsynced, as no resume
    /// depends on it. A crash can tear at most the last line, which readers skip.
    private func append(_ record: MetricsRecord) {
        // Cannot throw: every number is finite or written as null.
        let line = try! JSON.line(record) + "\n"
        handle.write(Data(line.utf8))
    }
}
