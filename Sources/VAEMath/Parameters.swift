// Parameters: every trainable weight in one flat Float buffer, every gradient in another of the same layout,
// and non-trained state (batch-norm running statistics) in a third.
//
// Layers declare named tensors while the model is built and keep the returned slots; they read and write
// through `values + slot.offset`. The optimizer, the gradient allreduce and checkpoints see only the flat buffers.
// The gradient buffer has a few spare Floats after the gradients, so per-step scalars (loss sums, a stop
// flag) are summed over the ranks with the gradients; after them, one Float per state entry
// collects the batch statistics (summed over micro-batches and ranks) that running averages move towards,
// once per step, the same at every rank count.

public enum ParameterInit: Sendable, Equatable {
    case zeros
    case ones
    /// Glorot (Xavier) uniform: U(−l, l), l = √(6 / (fanIn + fanOut)), the Keras default for kernels.
    case glorotUniform(fanIn: Int, fanOut: Int)
}

public struct ParameterSlot: Sendable {
    public let offset: Int
    public let count: Int
}

public final class ParameterStore {
    public struct Entry: Sendable {
        public let name: String
        public let shape: [Int]
        public let slot: ParameterSlot
        public let initializer: ParameterInit
        /// Trainable entries live in `values`/`gradients`; the others in `state`.
        public let trainable: Bool
        /// For a state entry that is a running average: state ← momentum·state + (1 − momentum)·statistic.
        public let momentum: Float?
    }

    /// Spare Floats after the gradients, reduced with them; see `trailingScalars`.
    public static let trailingScalarCount = 4

    public private(set) var entries: [Entry] = []
    public private(set) var count = 0
    public private(set) var stateCount = 0
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

    /// Reserves a named tensor; call before `allocate`.
    public func declare(_ name: String, shape: [Int], initializer: ParameterInit, trainable: Bool = true,
                        momentum: Float? = nil) -> ParameterSlot {
        precondition(!allocated, "parameter \(name) declared after allocation")
        precondition(!entries.contains { $0.name == name }, "parameter \(name) declared twice")
        let size = shape.reduce(1, *)
        let slot = ParameterSlot(offset: trainable ? count : stateCount, count: size)
        if trainable { count += size } else { stateCount += size }
        precondition(momentum == nil || !trainable, "parameter \(name): only state entries are running averages")
        entries.append(Entry(name: name, shape: shape, slot: slot, initializer: initializer, trainable: trainable, momentum: momentum))
        return slot
    }

    /// Allocates the buffers and fills them with the initial values drawn from `seed`.
    public func allocate(seed: UInt64) {
        precondition(!allocated, "parameters allocated twice")
        allocated = true
        values.deallocate(); gradients.deallocate(); state.deallocate()
        values = .allocate(capacity: max(count, 1))
        gradients = .allocate(capacity: reductionCount)
        state = .allocate(capacity: max(stateCount, 1))
        gradients.initialize(repeating: 0, count: reductionCount)
        for (index, entry) in entries.enumerated() {
            let base = (entry.trainable ? values : state) + entry.slot.offset
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

    /// Zeroes the gradients and the trailing scalars.
    public func zeroGradients() { gradients.update(repeating: 0, count: reductionCount) }

    private var reductionCount: Int { count + Self.trailingScalarCount + stateCount }

    /// Where a layer adds the batch statistic for state entry slot `slot` (same offsets as `state`).
    public var batchStatistics: UnsafeMutablePointer<Float> { gradients + count + Self.trailingScalarCount }

    /// Moves every running average towards its batch statistic divided by `batches` (the number summed).
    public func updateRunningAverages(batches: Int) {
        for entry in entries {
            guard let momentum = entry.momentum else { continue }
            let running = state + entry.slot.offset, statistic = batchStatistics + entry.slot.offset
            for i in 0..<entry.slot.count {
                running[i] = momentum * running[i] + (1 - momentum) * statistic[i] / Float(batches)
            }
        }
    }

    public var valueBuffer: UnsafeMutableBufferPointer<Float> { .init(start: values, count: count) }
    public var gradientBuffer: UnsafeMutableBufferPointer<Float> { .init(start: gradients, count: count) }
    /// The gradients, the trailing scalars and the batch statistics: what the ranks sum each step.
    public var reductionBuffer: UnsafeMutableBufferPointer<Float> { .init(start: gradients, count: reductionCount) }
    public var trailingScalars: UnsafeMutablePointer<Float> { gradients + count }
    public var stateBuffer: UnsafeMutableBufferPointer<Float> { .init(start: state, count: stateCount) }

    public func entry(named name: String) -> Entry? { entries.first { $0.name == name } }
}
