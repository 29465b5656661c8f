// A trace of the training (`vae train --trace FILE`): every rank's timeline (Timeline.swift). It wraps a step
// from outside: while one of the first `detailedSteps` steps runs, the model's layers, the reduction's buckets
// and the step's gathers report to the timeline; rank 0's writers report their checkpoints and pictures always.

import VAEData
import VAEMath

final class StepTrace {
    let timeline: Timeline
    private var detailedSoFar = 0

    init(_ timeline: Timeline) { self.timeline = timeline }

    /// `body`, one step of `trainer`, timed in detail if it is one of the first `detailedSteps`.
    fileprivate func traced<T>(step: Int, of trainer: Trainer, _ body: () throws -> T) rethrows -> T {
        guard detailedSoFar < timeline.detailedSteps else { return try body() }
        detailedSoFar += 1
        let timeline = timeline, images = trainer.images, started = ContinuousClock.now
        trainer.model.layerTimer = { layer, backward, start, end in timeline.record(layer + (backward ? " backward" : " forward"), from: start, to: end) }
        trainer.reduction.timeline = timeline
        trainer.images = TracedBatches(images, timeline)
        defer {
            timeline.record("step \(step + 1)", from: started)
            (trainer.model.layerTimer, trainer.reduction.timeline, trainer.images) = (nil, nil, images)
        }
        return try body()
    }
}

extension Optional where Wrapped == StepTrace {
    /// `body`, traced when there is a trace.
    func traced<T>(step: Int, of trainer: Trainer, _ body: () throws -> T) rethrows -> T {
        guard let self else { return try body() }
        return try self.traced(step: step, of: trainer, body)
    }
}

/// A step's images, each gather on the timeline.
private final class TracedBatches: BatchSource {
    let base: any BatchSource
    let timeline: Timeline

    init(_ base: any BatchSource, _ timeline: Timeline) {
        self.base = base
        self.timeline = timeline
    }

    func gather(_ indices: ArraySlice<Int>, into batch: Tensor) { timeline.span("gather") { base.gather(indices, into: batch) } }
}

extension Trainer {
    /// Every rank at once: from now on each rank records its timeline, in detail for its first `detailedSteps` steps.
    public func startTrace(detailedSteps: Int) throws {
        trace = StepTrace(try Timeline(detailedSteps: detailedSteps, communicator: communicator))
    }

    /// Every rank at once: rank 0 writes every rank's timeline to `path` as Chrome trace events.
    public func writeTrace(to path: String) throws { try trace?.timeline.write(to: path, communicator: communicator) }
}
