// AllreduceCompression: what gradients travel as between ranks. Like Horovod's Compression.fp16 and
// PyTorch DDP's bf16 hook, a 16-bit format halves the bytes on the wire; unlike them, the 16-bit sum is
// exact in the sense that matters here: every partial sum of the allreduce's tree is rounded to
// 16 bits the same way on both partners, so every rank still ends with the same bits.

import CMPIShim

public enum AllreduceCompression: String, CaseIterable, Equatable, Sendable, Codable {
    /// 32-bit floats, summed exactly as the tree says.
    case none
    /// bfloat16: float's 8-bit exponent, 8 significant bits (about 2–3 decimal digits). Overflows only
    /// where float does.
    case bf16
    /// IEEE half: 11 significant bits, but a range of 6e-8 (subnormal) to 65504; larger magnitudes are
    /// saturated to ±65504, smaller ones lose bits or become 0.
    case fp16

    /// The shim's VAE_FORMAT_* code.
    var format: Int32 {
        switch self {
        case .none: VAE_FORMAT_FP32
        case .bf16: VAE_FORMAT_BF16
        case .fp16: VAE_FORMAT_FP16
        }
    }

    /// Rounds every element to this format and back (nearest, ties to even; NaN and ±inf survive): what a
    /// rank's numbers become before they travel, and all a world of one does.
    public func round(_ buffer: UnsafeMutableBufferPointer<Float>) {
        guard self != .none, let base = buffer.baseAddress else { return }
        vae_round_to_16_bits(base, Int64(buffer.count), format)
    }

    /// One number rounded to this format and back.
    public func rounded(_ value: Float) -> Float {
        var value = value
        withUnsafeMutablePointer(to: &value) { round(UnsafeMutableBufferPointer(start: $0, count: 1)) }
        return value
    }
}
