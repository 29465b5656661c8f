// What allreduce.compression does to a number: rounded to bf16 or fp16 (nearest, ties to even) and back,
// NaN and ±inf kept so the non-finite guard still sees them, fp16 saturated at ±65504. A world of one rounds
// its gradients the same way, and a NaN gradient still stops the step.

import Foundation
import TestSupport
import Testing
import VAEMath
import VAECommunication
@testable import VAEConfig
@testable import VAETraining

@Suite struct AllreduceCompressionTests {
    /// bf16 by arithmetic: 8 significant bits, float's exponent range, ties to even.
    func bf16Reference(_ x: Float) -> Float {
        let ulp = Double(sign: .plus, exponent: max(x.exponent, -126) - 7, significand: 1)
        let rounded = (Double(x) / ulp).rounded(.toNearestOrEven) * ulp
        return Float(rounded)  // exact, or past float's range: ±inf
    }

    /// fp16 by Swift's Float16 (IEEE, ties to even), saturated where IEEE would overflow.
    func fp16Reference(_ x: Float) -> Float {
        let half = Float(Float16(x))
        return half.isInfinite && x.isFinite ? (x < 0 ? -65504 : 65504) : half
    }

    @Test func bf16RoundsToNearestTiesToEven() {
        let bf16 = AllreduceCompression.bf16
        #expect(bf16.rounded(1 + 0x1p-8) == 1, "halfway, down to the even neighbour")
        #expect(bf16.rounded(1 + 3 * 0x1p-8) == 1 + 0x1p-6, "halfway, up to the even neighbour")
        #expect(bf16.rounded(1 + 0x1p-8 + 0x1p-20) == 1 + 0x1p-7, "past halfway, up")
        let subnormal = Float.leastNormalMagnitude / 1000  // about 1e-41: below the normal range of both formats
        #expect(bf16.rounded(-0.0).sign == .minus && bf16.rounded(subnormal) == bf16Reference(subnormal))
        #expect(bf16.rounded(.greatestFiniteMagnitude) == .infinity, "bf16 overflows only where float does")
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<100_000 {
            let x = Float(bitPattern: UInt32.random(in: 0..<0x7F80_0000, using: &generator) | (Bool.random() ? 0x8000_0000 : 0))
            #expect(bf16.rounded(x) == bf16Reference(x), "\(x) (bits \(String(x.bitPattern, radix: 16)))")
        }
    }

    @Test func fp16RoundsAsIEEEHalfAndSaturatesAt65504() {
        let fp16 = AllreduceCompression.fp16
        #expect(fp16.rounded(1 + 0x1p-11) == 1 && fp16.rounded(1 + 3 * 0x1p-11) == 1 + 0x1p-9)
        #expect(fp16.rounded(65519) == 65504 && fp16.rounded(65520) == 65504 && fp16.rounded(-1e30) == -65504)
        #expect(fp16.rounded(0x1p-25) == 0 && fp16.rounded(3 * 0x1p-26) == 0x1p-24, "subnormal halves, ties to even")
        #expect(fp16.rounded(0x1p-14 - 0x1p-26) == 0x1p-14, "rounding up out of the subnormals")
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<100_000 {
            // Mostly the half's own range, 2^-30 to 2^17, some beyond.
            let x = Float(sign: Bool.random() ? .minus : .plus, exponent: Int.random(in: -30...17, using: &generator),
                          significand: Float.random(in: 1..<2, using: &generator))
            #expect(fp16.rounded(x) == fp16Reference(x), "\(x) (bits \(String(x.bitPattern, radix: 16)))")
        }
    }

    @Test func nonFiniteNumbersSurviveEitherFormat() {
        for compression in [AllreduceCompression.bf16, .fp16] {
            #expect(compression.rounded(.nan).isNaN && compression.rounded(-.nan).isNaN)
            // A signalling NaN whose payload lies in the low bits only: truncating would make it inf.
            #expect(compression.rounded(Float(bitPattern: 0x7F80_0001)).isNaN)
            #expect(compression.rounded(.infinity) == .infinity && compression.rounded(-.infinity) == -.infinity)
        }
        #expect(AllreduceCompression.none.rounded(1 + 0x1p-20) == 1 + 0x1p-20)
    }

    @Test func aWorldOfOneRoundsItsGradientsAndStillStopsOnANaN() throws {
        var config = TrainingConfig()
        config.data.limit = 64
        config.allreduce.compression = .bf16
        let trainer = try Trainer(config: config)
        _ = try trainer.step(0)
        let p = trainer.model.parameters
        let gradients = UnsafeBufferPointer(start: p.gradients, count: p.count)
        #expect(gradients.contains { $0 != 0 } && gradients.allSatisfy { $0 == AllreduceCompression.bf16.rounded($0) },
                "every gradient Adam saw is a bf16 number")
        let before = Array(UnsafeBufferPointer(start: p.values, count: p.count))
        trainer.images = CuedImages(wrapping: trainer.images, microBatchesPerStep: 4) { _, microBatch in if microBatch == 0 { p.gradients[3] = .nan } }
        #expect(throws: (any Error).self) { try trainer.step(1) }
        #expect(Array(UnsafeBufferPointer(start: p.values, count: p.count)) == before, "no weight moved")
    }
}
