// The bias kernels (Kernels.addBias, Kernels.accumulateColumnSums) against plain scalar loops, bit for bit,
// at widths that take every column block of the C code: 64, 16, 4 and single columns, and narrow rows.

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
}
