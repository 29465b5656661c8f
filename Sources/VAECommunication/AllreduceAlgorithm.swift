// AllreduceAlgorithm: how the exact sum moves over the ranks. Both algorithms add every element in the
// same binary tree, so they give the same bits; they differ in bytes and rounds. Recursive doubling sends
// the whole buffer in each of log2 P rounds; Rabenseifner's halving sends 2 · (P − 1) / P of it in
// 2 · log2 P rounds: fewer bytes from 4 ranks on, more messages. Rank counts that are not powers of two
// always halve, within groups of a power of two (see the shim).

public enum AllreduceAlgorithm: String, CaseIterable, Equatable, Sendable, Codable {
    /// Halving for buffers of at least `halvingFromFloats` over a power-of-two core of 4 ranks or more;
    /// doubling otherwise (at 2 ranks both send the buffer once, and doubling in one round).
    case auto
    /// Recursive doubling.
    case doubling
    /// Rabenseifner: a reduce-scatter by recursive halving, then an allgather by recursive doubling.
    case halving

    /// Where `auto` turns to halving: 64 KiB, one default bucket (see the README's *Past two nodes*).
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
