// What the gradient sum over the ranks may be asked to do: the number format its partial sums travel as,
// and how it moves. The communicator implements them; they are named here, in the lowest room that both it
// and the config see, so that choosing one needs no MPI.

/// What gradients travel as between ranks. Like Horovod's Compression.fp16 and PyTorch DDP's bf16 hook, a
/// 16-bit format halves the bytes on the wire; unlike them, the 16-bit sum is exact in the sense that matters
/// here: every partial sum of the allreduce's tree is rounded to 16 bits the same way on both partners, so
/// every rank still ends with the same bits.
public enum AllreduceCompression: String, CaseIterable, Equatable, Sendable, Codable {
    /// 32-bit floats, summed exactly as the tree says.
    case none
    /// bfloat16: float's 8-bit exponent, 8 significant bits (about 2–3 decimal digits). Overflows only
    /// where float does.
    case bf16
    /// IEEE half: 11 significant bits, but a range of 6e-8 (subnormal) to 65504; larger magnitudes are
    /// saturated to ±65504, smaller ones lose bits or become 0.
    case fp16
}

/// How the exact sum moves over the ranks. Both algorithms add every element in the same binary tree, so they
/// give the same bits; they differ in bytes and rounds. Recursive doubling sends the whole buffer in each of
/// log2 P rounds; Rabenseifner's halving sends 2 · (P − 1) / P of it in 2 · log2 P rounds: fewer bytes from 4
/// ranks on, more messages. Rank counts that are not powers of two always halve, within groups of a power of
/// two (see the shim).
public enum AllreduceAlgorithm: String, CaseIterable, Equatable, Sendable, Codable {
    /// Halving for buffers of at least `halvingFromFloats` over a power-of-two core of 4 ranks or more;
    /// doubling otherwise (at 2 ranks both send the buffer once, and doubling in one round).
    case auto
    /// Recursive doubling.
    case doubling
    /// Rabenseifner: a reduce-scatter by recursive halving, then an allgather by recursive doubling.
    case halving

    /// Where `auto` turns to halving: 64 KiB, measured (docs/distributed.md); the default bucket is this size.
    public static let halvingFromFloats = 16 * 1024

    /// The groups a sum over `ranks` ranks forms, as the shim forms them: the binary digits of the count,
    /// largest first (6 → [4, 2]), each a complete tree over consecutive ranks.
    public static func groups(ranks: Int) -> [Int] {
        (0..<Int.bitWidth).reversed().filter { ranks >> $0 & 1 == 1 }.map { 1 << $0 }
    }

    /// Whether a sum of `floats` over `ranks` ranks goes by halving.
    public func halves(floats: Int, ranks: Int) -> Bool {
        switch self {
        case .doubling: false
        case .halving: true
        case .auto: floats >= Self.halvingFromFloats && ranks >= 4
        }
    }
}
