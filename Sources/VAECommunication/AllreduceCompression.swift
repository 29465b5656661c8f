// AllreduceCompression as the shim carries it out: its format code, and the rounding a rank's numbers take
// before they travel.

import CMPIShim
import VAEMath

extension AllreduceCompression {
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
