// LiveProgress: rank 0's one-line view of training on a terminal, rewritten in place with a carriage return
// at most four times a second: epoch, step of steps, the epoch's mean loss so far, images/s and the time left.

import Foundation
import VAEMath

public final class LiveProgress {
    public static let redrawInterval = Duration.milliseconds(250)
    private let write: (String) -> Void
    private var lastDrawn: ContinuousClock.Instant?
    private var showing = false

    /// `write` puts text on the terminal as is, without adding a newline.
    public init(write: @escaping (String) -> Void) { self.write = write }

    /// After each step: `stepsTaken` steps of this epoch took `seconds` in this process and gave `loss`.
    public func update(epoch: Int, of epochs: Int, step: Int, of stepsPerEpoch: Int, stepsTaken: Int, loss: LossSums, seconds: Double) {
        if let lastDrawn, lastDrawn.duration(to: .now) < Self.redrawInterval { return }
        lastDrawn = .now
        let remainingSteps = (epochs - epoch - 1) * stepsPerEpoch + stepsPerEpoch - step
        let eta = Double(remainingSteps) * seconds / Double(max(stepsTaken, 1))
        write(String(format: "\r\u{1B}[Kepoch %d/%d  step %d/%d  loss %.3f  images/s %.0f  ETA ", epoch + 1, epochs, step, stepsPerEpoch,
                     loss.meanLoss, Double(loss.samples) / max(seconds, 1e-9)) + Self.duration(eta))
        showing = true
    }

    /// Erases the line, so that an ordinary line printed next starts clean.
    public func clear() {
        guard showing else { return }
        write("\r\u{1B}[K")
        showing = false
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        if s < 60 { return "\(s) s" }
        if s < 3600 { return String(format: "%dm %02ds", s / 60, s % 60) }
        return String(format: "%dh %02dm", s / 3600, s % 3600 / 60)
    }
}
