// Parameters: every trainable weight in one flat Float buffer, every gradient in another of the same layout,
// and non-trained state (batch-norm running statistics) in a third.
//
// Layers declare named tensors while the model is built and keep the returned slots; they read and write
// through `pointer(slot)` and `gradient(slot)`. The optimizer, the gradient allreduce and checkpoints see only
// the flat buffers. What the ranks sum each step, the reduction buffer, is laid out as
//   [gradients | batch statistics | reserved tail]
// Batch statistics are slots like any other, which layers add into during training; running averages move
// towards them once per step. The reserved tail belongs to whoever allocates the store (the trainer puts its
// step's loss sums and stop requests there), so everything a step exchanges is summed in one buffer.

public enum ParameterInit: Sendable, Equatable {
    case zeros
    case ones
    /// Glorot (Xavier) uniform: U(−l, l), l = √(6 / (fanIn + fanOut)), the Keras default for kernels.
    case glorotUniform(fanIn: Int, fanOut: Int)
}

public struct ParameterSlot: Sendable, Equatable {
    /// Which flat buffer the slot lives in.
    public enum Buffer: Sendable, Equatable {
        /// Trained: `values`, with its gradient at the same offset of `gradients`.
        case values
        /// Not trained, but kept in checkpoints: `state`.
        case state
        /// Summed over micro-batches and ranks each step, in the reduction buffer after the gradients.
        case statistics
    }

    public let buffer: Buffer
    public let offset: Int
    public let count: Int
    public var range: Range<Int> { offset..<(offset + count) }
}

public final class ParameterStore {
    public struct Entry: Sendable {
        public let name: String
        public let shape: [Int]
        public let slot: ParameterSlot
        public let initializer: ParameterInit
        /// For a state entry that is a running average: state ← momentum·state + (1 − momentum)·statistic.
        public let runningAverage: RunningAverage?
        public var trainable: Bool { slot.buffer == .values }
    }

    public struct RunningAverage: Sendable {
        public let statistic: ParameterSlot
        public let momentum: Float
        public init(of statistic: ParameterSlot, momentum: Float) {
            self.statistic = statistic
            self.momentum = momentum
        }
    }

    /// The trained and state entries: what a checkpoint holds, in declaration order.
    public private(set) var entries: [Entry] = []
    /// The batch-statistic entries, which live only for the length of a step.
    public private(set) var statisticEntries: [Entry] = []
    /// Trainable Floats.
    public private(set) var count = 0
    public private(set) var stateCount = 0
    public private(set) var statisticCount = 0
    public private(set) var reservedCount = 0
    public private(set) var values = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    public private(set) var gradients = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    public private(set) var state = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    private var allocated = false

    public init() {}

    deinit {
        values.deallocate()
        gradients.deallocate()
        state.deallocate()
    }

    /// Reserves a named tensor in `buffer`; call before `allocate`.
    public func declare(_ name: String, shape: [Int], initializer: ParameterInit = .zeros, buffer: ParameterSlot.Buffer = .values,
                        runningAverage: RunningAverage? = nil) -> ParameterSlot {
        precondition(!allocated, "parameter \(name) declared after allocation")
        precondition(!(entries + statisticEntries).contains { $0.name == name }, "parameter \(name) declared twice")
        precondition(runningAverage == nil || buffer == .state, "parameter \(name): only state entries are running averages")
        let size = shape.reduce(1, *)
        let slot: ParameterSlot
        switch buffer {
        case .values: slot = ParameterSlot(buffer: buffer, offset: count, count: size); count += size
        case .state: slot = ParameterSlot(buffer: buffer, offset: stateCount, count: size); stateCount += size
        case .statistics: slot = ParameterSlot(buffer: buffer, offset: statisticCount, count: size); statisticCount += size
        }
        let entry = Entry(name: name, shape: shape, slot: slot, initializer: initializer, runningAverage: runningAverage)
        if buffer == .statistics { statisticEntries.append(entry) } else { entries.append(entry) }
        return slot
    }

    /// Allocates the buffers, with `reservedTail` spare Floats at the end of the reduction buffer, and fills
    /// them with the initial values drawn from `seed`.
    public func allocate(seed: UInt64, reservedTail: Int = 0) {
        precondition(!allocated, "parameters allocated twice")
        allocated = true
        reservedCount = reservedTail
        values.deallocate(); gradients.deallocate(); state.deallocate()
        values = .allocate(capacity: max(count, 1))
        gradients = .allocate(capacity: max(reductionCount, 1))
        state = .allocate(capacity: max(stateCount, 1))
        gradients.initialize(repeating: 0, count: max(reductionCount, 1))
        for (index, entry) in entries.enumerated() {
            let base = pointer(entry.slot)
            switch entry.initializer {
            case .zeros: base.initialize(repeating: 0, count: entry.slot.count)
            case .ones: base.initialize(repeating: 1, count: entry.slot.count)
            case .glorotUniform(let fanIn, let fanOut):
                let limit = Float((6.0 / Double(fanIn + fanOut)).squareRoot())
                for element in 0..<entry.slot.count {
                    let u = CounterRandom.uniform(seed: seed, purpose: .initialization, UInt64(index), 0, UInt64(element))
                    base[element] = (2 * u - 1) * limit
                }
            }
        }
    }

    /// Where the slot's Floats are: values, state or batch statistics, by its buffer.
    public func pointer(_ slot: ParameterSlot) -> UnsafeMutablePointer<Float> {
        switch slot.buffer {
        case .values: values + slot.offset
        case .state: state + slot.offset
        case .statistics: gradients + count + slot.offset
        }
    }

    /// Where a trainable slot's gradient is.
    public func gradient(_ slot: ParameterSlot) -> UnsafeMutablePointer<Float> {
        precondition(slot.buffer == .values, "only trainable slots have gradients")
        return gradients + slot.offset
    }

    /// Zeroes the whole reduction buffer: gradients, batch statistics and the reserved tail.
    public func zeroGradients() { gradients.update(repeating: 0, count: reductionCount) }

    private var reductionCount: Int { count + statisticCount + reservedCount }

    /// Moves every running average towards its batch statistic divided by `batches` (the number summed).
    public func updateRunningAverages(batches: Int) {
        for entry in entries {
            guard let average = entry.runningAverage else { continue }
            let running = pointer(entry.slot), statistic = pointer(average.statistic)
            for i in 0..<entry.slot.count {
                running[i] = average.momentum * running[i] + (1 - average.momentum) * statistic[i] / Float(batches)
            }
        }
    }

    public var valueBuffer: UnsafeMutableBufferPointer<Float> { .init(start: values, count: count) }
    public var gradientBuffer: UnsafeMutableBufferPointer<Float> { .init(start: gradients, count: count) }
    public var stateBuffer: UnsafeMutableBufferPointer<Float> { .init(start: state, count: stateCount) }
    /// What the ranks sum each step: the gradients, the batch statistics and the reserved tail.
    public var reductionBuffer: UnsafeMutableBufferPointer<Float> { .init(start: gradients, count: reductionCount) }
    /// The reserved tail's place in the reduction buffer.
    public var reservedRange: Range<Int> { (count + statisticCount)..<reductionCount }

    public func entry(named name: String) -> Entry? { entries.first { $0.name == name } }

    /// Takes `other`'s trained values and state, which must be laid out as this store's.
    public func copyWeights(from other: ParameterStore) {
        precondition(other.count == count && other.stateCount == stateCount, "copying weights between different models")
        values.update(from: other.values, count: count)
        state.update(from: other.state, count: stateCount)
    }

    /// The name of the first trained or state entry holding a NaN or an infinity: no checkpoint or picture may
    /// be made from it. Nil when every value is finite.
    public var firstNonfiniteEntry: String? {
        entries.first { UnsafeBufferPointer(start: pointer($0.slot), count: $0.slot.count).contains { !$0.isFinite } }?.name
    }
}
