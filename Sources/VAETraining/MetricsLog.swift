// MetricsLog: rank 0's `metrics.jsonl` in the run's output directory: one MetricsRecord a line, per log
// interval ("kind": "interval") and per epoch ("kind": "epoch"). RunReport reads the records back; each record
// goes to the TensorBoard log too, when there is one.

import Foundation
import VAEMath
import VAESupport

public final class MetricsLog {
    public let path: String
    private let fd: Int32
    private let started = ContinuousClock.now
    private let warn: (String) -> Void
    /// The last epoch whose lines could not all be written, so that a full disk warns once per epoch, not per line.
    private var warnedEpoch: Int?
    /// Where each record goes too, when set.
    var tensorBoard: TensorBoardLog?

    /// Creates DIR/metrics.jsonl, or appends to it when resuming; `warn` hears of lines that cannot be written.
    /// Throws, naming the path, when DIR cannot be written: a run that cannot keep its output stops before it starts.
    public init(directory: String, appending: Bool = false, warn: @escaping (String) -> Void = { print($0) }) throws {
        path = (directory as NSString).appendingPathComponent("metrics.jsonl")
        do {
            try DurableFiles.createDirectory(directory)
            if !(appending && FileManager.default.fileExists(atPath: path)) { try DurableFiles.write([], to: path) }
        } catch let error as VAEError { throw VAEError("output.dir: \(error.message)") }
        fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard fd >= 0 else { throw VAEError("output.dir: cannot open \(path) for appending: \(String(cString: strerror(errno)))") }
        self.warn = warn
    }

    deinit { close(fd) }

    public func recordInterval(step: Int, epoch: Int, loss: LossSums, klWeight: Float = 1, gradientNorm: Double? = nil, learningRate: Float,
                               seconds: Double, allreduceMilliseconds: Double) {
        append(MetricsRecord(kind: .interval, step: step, epoch: epoch + 1, loss: loss.meanLoss, reconstruction: loss.meanReconstruction,
                             kl: loss.meanKL, klWeight: klWeight, gradientNorm: gradientNorm, learningRate: learningRate,
                             imagesPerSecond: Double(loss.samples) / max(seconds, 1e-9), allreduceMilliseconds: allreduceMilliseconds,
                             wallSeconds: started.secondsElapsed))
    }

    /// `step`: the global step at the end of the report's steps.
    public func record(_ report: EpochReport, step: Int) {
        let validation = report.validation.map { ($0.meanLoss, $0.meanReconstruction, $0.meanKL) }
        append(MetricsRecord(kind: .epoch, step: step, epoch: report.epoch + 1, loss: report.loss.meanLoss,
                             reconstruction: report.loss.meanReconstruction, kl: report.loss.meanKL, klWeight: report.klWeight,
                             validation: validation, learningRate: report.learningRate,
                             imagesPerSecond: report.imagesPerSecond, allreduceMilliseconds: report.allreduceMilliseconds ?? 0,
                             wallSeconds: started.secondsElapsed, epochSeconds: report.seconds, skippedSteps: report.skippedSteps,
                             saveWaitSeconds: report.saveWaitSeconds))
    }

    /// The one file write of the project that does not replace a whole file: a line is appended, not the file
    /// rewritten (which would cost more at every line as the run grows), and not fsynced, as no resume depends on
    /// it; a crash can tear at most the last line, which readers skip. A line that cannot be written (a full disk)
    /// is lost, with a warning once per epoch, and the training goes on.
    private func append(_ record: MetricsRecord) {
        // Cannot throw: every number is finite or written as null.
        let line = try! JSON.line(record)
        tensorBoard?.scalars(of: line, step: record.step, kind: record.kind.rawValue)
        do { try DurableFiles.append(Array((line + "\n").utf8), fd: fd, path: path) } catch {
            guard warnedEpoch != record.epoch else { return }
            warnedEpoch = record.epoch
            warn("warning: epoch \(record.epoch)'s metrics are not all recorded: \(error); training goes on")
        }
    }
}
