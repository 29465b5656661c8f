// The bias kernels (Kernels.addBias, Kernels.accumulateColumnSums) against plain scalar loops, bit for bit,
// at widths that take every column block of the C code: 64, 16, 4 and single columns, and narrow rows; and
// the sigmoid's vectorized exp against libm's expf.

import Foundation
import Testing
import VAEMath

@Suite struct MatrixKernelTests {
    @Test(arguments: [1, 3, 4, 5, 16, 17, 32, 40, 64, 67, 130])
    func biasKernelsGiveTheBitsOfScalarLoops(columns c: Int) {
        let rows = 37
        let x = randomValues(rows * c, seed: 31, in: -3...3), bias = randomValues(c, seed: 32, in: -1...1)
        var sums = randomValues(c, seed: 33, in: -1...1), expectedSums = sums
        for r in 0..<rows { for j in 0..<c { expectedSums[j] += x[r * c + j] } }
        Kernels.accumulateColumnSums(x, rows: rows, columns: c, into: &sums)
        #expect(sums.map(\.bitPattern) == expectedSums.map(\.bitPattern))

        var biased = x
        Kernels.addBias(bias, to: &biased, rows: rows, columns: c)
        #expect(biased.map(\.bitPattern) == (0..<(rows * c)).map { (x[$0] + bias[$0 % c]).bitPattern })
    }

    /// Sigmoid's C kernel against `1 / (1 + expf(-x))`, bit for bit, on every 4,093rd of the 2³² floats
    /// (every one with VAE_EXHAUSTIVE_EXP=1: 26 minutes in a debug build) and the edges of expf's special cases (±88,
    /// overflow, underflow, infinities, NaN, zeros, subnormals). On a CPU with FMA, where glibc runs its
    /// __expf_fma.
    @Test func sigmoidGivesTheBitsOfLibmsExp() {
        let stride = ProcessInfo.processInfo.environment["VAE_EXHAUSTIVE_EXP"] == "1" ? 1 : 4093
        let edges: [UInt32] = [0x42b0_0000, 0xc2b0_0000, 0x42af_ffff, 0xc2af_ffff, 0x42b1_7218, 0x42b1_7219, 0xc2cf_f1b4,
                               0xc2cf_f1b5, 0xc2ce_8ed0, 0x7f80_0000, 0xff80_0000, 0x7fc0_0000, 0, 0x8000_0000, 1, 0x8000_0001]
        let chunk = 1 << 20, sigmoid = Sigmoid(shape: [chunk])
        let context = StepContext(training: true, seed: 0, epoch: 0, sampleIndices: [0])
        var differing = 0, checked = 0
        func check(_ bits: [UInt32]) {
            let x = bits.map { Float(bitPattern: $0) } + [Float](repeating: 0, count: chunk - bits.count)
            let y = sigmoid.forward(Tensor(batch: 1, itemShape: [chunk], values: x), context).array
            differing += zip(y, x).prefix(bits.count).filter { y, x in
                let expected = 1 / (1 + expf(-x))
                return y.bitPattern != expected.bitPattern && !(y.isNaN && expected.isNaN)
            }.count
            checked += bits.count
        }
        for first in Swift.stride(from: UInt64(0), to: 1 << 32, by: chunk * stride) {
            check((0..<UInt64(chunk)).map { first + $0 * UInt64(stride) }.filter { $0 < 1 << 32 }.map { UInt32($0) })
        }
        check(edges)
        #expect(differing == 0, "\(differing) of \(checked) differ")
    }
}
