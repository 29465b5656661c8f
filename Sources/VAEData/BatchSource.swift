// BatchSource: where a training step's images come from. An ImageDataset is one; the trace wraps one to
// time each gather, and the test-only fault injection wraps one to misbehave on cue.

import VAEMath

public protocol BatchSource: AnyObject {
    /// Copies the images at `indices`, scaled to [0, 1], into `batch` (resized to `indices.count`).
    func gather(_ indices: ArraySlice<Int>, into batch: Tensor)
}

/// An ImageDataset as a step's source: a value, boxed.
public final class DatasetBatches: BatchSource {
    public let dataset: ImageDataset

    public init(_ dataset: ImageDataset) { self.dataset = dataset }

    public func gather(_ indices: ArraySlice<Int>, into batch: Tensor) { dataset.gather(indices, into: batch) }
}
