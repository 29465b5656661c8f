// Tensor: a contiguous Float32 buffer holding a batch of items, channels last (NHWC, the layout Keras uses).
//
// The leading dimension (the batch) may change between calls; the item shape never does. Growing past the
// allocated capacity reallocates, so a training loop at a fixed batch size allocates only on its first step.

public final class Tensor {
    /// Shape of one item, e.g. [height, width, channels] or [features].
    public let itemShape: [Int]
    /// Number of Floats in one item.
    public let itemCount: Int
    /// Number of items currently held.
    public private(set) var batch: Int
    public private(set) var pointer: UnsafeMutablePointer<Float>
    private var capacity: Int

    public init(batch: Int, itemShape: [Int]) {
        precondition(batch >= 0 && itemShape.allSatisfy { $0 > 0 }, "invalid tensor shape \(batch)×\(itemShape)")
        self.itemShape = itemShape
        self.itemCount = itemShape.reduce(1, *)
        self.batch = batch
        self.capacity = max(1, batch * itemCount)
        self.pointer = .allocate(capacity: capacity)
        pointer.initialize(repeating: 0, count: capacity)
    }

    deinit { pointer.deallocate() }

    /// Total number of Floats held: batch × itemCount.
    public var count: Int { batch * itemCount }
    public var shape: [Int] { [batch] + itemShape }

    /// Sets the batch size, reallocating (contents lost) only when the capacity is too small.
    public func resize(batch newBatch: Int) {
        let needed = newBatch * itemCount
        if needed > capacity {
            pointer.deallocate()
            capacity = needed
            pointer = .allocate(capacity: capacity)
            pointer.initialize(repeating: 0, count: capacity)
        }
        batch = newBatch
    }

    public subscript(index: Int) -> Float {
        get { assert(index >= 0 && index < count, "tensor index \(index) out of 0..<\(count)"); return pointer[index] }
        set { assert(index >= 0 && index < count, "tensor index \(index) out of 0..<\(count)"); pointer[index] = newValue }
    }

    public func fill(_ value: Float) { pointer.update(repeating: value, count: count) }

    public func copy(from other: Tensor) {
        precondition(other.itemCount == itemCount, "copying items of \(other.itemShape) into \(itemShape)")
        resize(batch: other.batch)
        pointer.update(from: other.pointer, count: count)
    }

    public var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    public convenience init(batch: Int, itemShape: [Int], values: [Float]) {
        self.init(batch: batch, itemShape: itemShape)
        precondition(values.count == count, "\(values.count) values for a tensor of \(count)")
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: count) }
    }
}
