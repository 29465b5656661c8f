// CuedImages: a training step's images that first run a cue, told which step (counted from 0 among the steps
// they serve: the global step, in a run from the start) and which micro-batch of it is about to be gathered.
// Its gradients were just zeroed and its forward pass is next: where the tests and `vae-fault-injection` poison
// a gradient, nudge a weight, hang, sleep or send a signal.

import VAEData
import VAEMath

public final class CuedImages: BatchSource {
    private let base: any BatchSource
    private let microBatchesPerStep: Int
    private let cue: (_ step: Int, _ microBatch: Int) -> Void
    private var gathered = 0

    public init(wrapping base: any BatchSource, microBatchesPerStep: Int, cue: @escaping (_ step: Int, _ microBatch: Int) -> Void) {
        self.base = base
        self.microBatchesPerStep = microBatchesPerStep
        self.cue = cue
    }

    public func gather(_ indices: ArraySlice<Int>, into batch: Tensor) {
        cue(gathered / microBatchesPerStep, gathered % microBatchesPerStep)
        gathered += 1
        base.gather(indices, into: batch)
    }
}
