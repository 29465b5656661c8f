// Counter-based random numbers: every draw is a pure function of its coordinates.
//
// There is no generator state to carry, share or checkpoint. A draw's coordinates are
// (seed, purpose, a, b, c), where a caller uses them for (epoch, global sample index, element) or
// (tensor index, element); so a run draws the same numbers at any rank count and after any resume.

import CKernels
import Foundation

public enum RandomPurpose: UInt64, Sendable {
    case initialization = 1
    case shuffle = 2
    case latentNoise = 3
    case dropout = 4
    case priorSamples = 5
    case syntheticImages = 6
}

public enum CounterRandom {
    @inline(__always)
    static func mix(_ value: UInt64) -> UInt64 {
        // SplitMix64's finalizer: a bijection that avalanches every input bit.
        var x = value &+ 0x9E37_79B9_7F4A_7C15
        x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
        x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
        return x ^ (x >> 31)
    }

    /// 64 random bits at the given coordinates.
    @inline(__always)
    public static func bits(seed: UInt64, purpose: RandomPurpose, _ a: UInt64, _ b: UInt64, _ c: UInt64) -> UInt64 {
        bits(prefix: prefix(seed: seed, purpose: purpose, a, b), c)
    }

    /// What draws sharing (seed, purpose, a, b) share: a row of draws costs one `mix` each, not five.
    @inline(__always)
    public static func prefix(seed: UInt64, purpose: RandomPurpose, _ a: UInt64, _ b: UInt64) -> UInt64 {
        mix(mix(mix(mix(seed) ^ purpose.rawValue) ^ a) ^ b)
    }

    /// The same bits as `bits(seed:purpose:a:b:c)` for the `prefix` of (seed, purpose, a, b).
    @inline(__always)
    public static func bits(prefix: UInt64, _ c: UInt64) -> UInt64 { mix(prefix ^ c) }

    /// Uniform in [0, 1), 24 bits of resolution (exact in Float).
    @inline(__always)
    public static func uniform(seed: UInt64, purpose: RandomPurpose, _ a: UInt64, _ b: UInt64, _ c: UInt64) -> Float {
        uniform(bits(seed: seed, purpose: purpose, a, b, c))
    }

    @inline(__always)
    public static func uniform(_ bits: UInt64) -> Float { Float(bits >> 40) * (1.0 / 16_777_216.0) }

    /// Dropout's multipliers for elements 0..<count of one sample: 0 where
    /// `uniform(bits(prefix: prefix, stream << 32 | e)) < rate`, else `keep`. A C kernel (CKernels), so
    /// that the 64-bit multiplies run in vector registers where the CPU has them; the same bits.
    @inline(__always)
    public static func dropoutFactors(prefix: UInt64, stream: UInt64, count: Int, rate: Float, keep: Float,
                                      into out: UnsafeMutablePointer<Float>) {
        vae_dropout_factors(prefix, stream, count, rate, keep, out)
    }

    /// Standard normal by Box–Muller over the two 32-bit halves of one draw.
    @inline(__always)
    public static func normal(seed: UInt64, purpose: RandomPurpose, _ a: UInt64, _ b: UInt64, _ c: UInt64) -> Float {
        let r = bits(seed: seed, purpose: purpose, a, b, c)
        let u1 = (Double(r >> 32) + 1) / 4_294_967_296.0  // (0, 1]: log is finite
        let u2 = Double(r & 0xFFFF_FFFF) / 4_294_967_296.0
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }

    /// A uniformly random permutation of 0..<count, a pure function of (seed, purpose, key).
    /// Fisher–Yates where swap i's draw sits at coordinate i; Lemire's multiply-shift maps it to 0...i.
    public static func permutation(count: Int, seed: UInt64, purpose: RandomPurpose, key: UInt64) -> [Int] {
        var order = Array(0..<count)
        var i = count - 1
        while i > 0 {
            let r = bits(seed: seed, purpose: purpose, key, 0, UInt64(i)) >> 32
            let j = Int((r &* UInt64(i + 1)) >> 32)
            order.swapAt(i, j)
            i -= 1
        }
        return order
    }
}
