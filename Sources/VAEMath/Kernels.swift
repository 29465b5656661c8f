// Kernels: the hot loops every layer shares. GEMM goes to OpenBLAS; im2col/col2im turn a convolution over
// the whole batch into one GEMM. Everything works on raw pointers into buffers the layers own.

import CBLAS
import CDNNL
import CKernels

public enum Kernels {
    /// Sets the threads of each oneDNN primitive (its OpenMP runtime) run from the calling thread, and of each
    /// GEMM (OpenBLAS) when the convolutions are GEMMs. With oneDNN's convolutions OpenBLAS keeps one thread:
    /// its GEMMs are then the dense layers' few rows, and its idle workers spin on the cores that oneDNN's
    /// threads need (faces at 1 rank × 2 threads: 219–237 images/s with both threaded, 361–405 so).
    public static func setThreadCount(_ threads: Int, convolutions: ConvolutionBackend) {
        let threads = Int32(max(1, threads))
        openblas_set_num_threads(convolutions == .im2col ? threads : 1)
        omp_set_num_threads(threads)
    }

    /// The calling thread's own oneDNN threads (an OpenMP setting of the thread), leaving every other thread's as is.
    public static func limitCallingThread(to threads: Int) { omp_set_num_threads(Int32(max(1, threads))) }

    /// C[m×n] = alpha · op(A) · op(B) + beta · C, row-major; op transposes when asked.
    @inline(__always)
    public static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
        beta: Float, _ c: UnsafeMutablePointer<Float>
    ) {
        let lda = transposeA ? m : k
        let ldb = transposeB ? k : n
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(n))
    }

    /// rows[r][j] += bias[j] for every row of a rows×columns matrix.
    @inline(__always)
    public static func addBias(_ bias: UnsafePointer<Float>, to matrix: UnsafeMutablePointer<Float>, rows: Int, columns: Int) {
        vae_add_bias(bias, matrix, rows, columns)
    }

    /// sums[j] += Σ_r matrix[r][j]: the bias gradient.
    @inline(__always)
    public static func accumulateColumnSums(_ matrix: UnsafePointer<Float>, rows: Int, columns: Int, into sums: UnsafeMutablePointer<Float>) {
        vae_column_sums(matrix, rows, columns, sums)
    }

    /// Σ x², in Float over 16 lanes in one pass. It is not finite exactly when some element is NaN or infinite,
    /// or the sum overflows (a norm past ~1.8e19, where Adam's g² would overflow too): the cheap test of a
    /// gradient buffer. The lanes bracket the sum their own way: a check, not a number to train with.
    public static func sumOfSquares(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var lanes = SIMD16<Float>(), i = 0
        let raw = UnsafeRawPointer(x)
        while i + 16 <= count {
            let v = raw.loadUnaligned(fromByteOffset: i * MemoryLayout<Float>.stride, as: SIMD16<Float>.self)
            lanes += v * v  // not addProduct: without FMA in the target that is a libm call per lane, 30× slower
            i += 16
        }
        var total = lanes.sum()
        while i < count { total += x[i] * x[i]; i += 1 }
        return total
    }

    /// √(Σ x²) in Double, over 8 lanes whose sums are added in one fixed order: a number to train with (gradient
    /// clipping), the same bits on every rank, in every build.
    public static func l2Norm(_ x: UnsafePointer<Float>, count: Int) -> Double {
        var lanes = SIMD8<Double>(), i = 0
        while i + 8 <= count {
            var v = SIMD8<Double>()
            for lane in 0..<8 { v[lane] = Double(x[i + lane]) }
            lanes += v * v
            i += 8
        }
        var total = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))
        while i < count { total += Double(x[i]) * Double(x[i]); i += 1 }
        return total.squareRoot()
    }

    /// Unfolds an NHWC image batch into rows of patches: row (n, oh, ow) holds the K×K×C window
    /// under output pixel (oh, ow), zeros where the window hangs over the padding. A window row of K pixels
    /// is K·C contiguous Floats in the image, so inside the image each (row, kh) is one run.
    public static func im2col(_ image: UnsafePointer<Float>, batch: Int, _ g: ConvGeometry, channels: Int, into columns: UnsafeMutablePointer<Float>) {
        let run = g.kernel * channels, patch = g.kernel * run
        for n in 0..<batch {
            let imageBase = image + n * g.inputHeight * g.inputWidth * channels
            for oh in 0..<g.outputHeight {
                let rowBase = columns + (n * g.outputHeight + oh) * g.outputWidth * patch
                for kh in 0..<g.kernel {
                    let ih = oh * g.stride - g.padTop + kh
                    let insideRows = ih >= 0 && ih < g.inputHeight
                    let imageRow = imageBase + ih * g.inputWidth * channels
                    for ow in 0..<g.outputWidth {
                        let out = rowBase + ow * patch + kh * run
                        let iw = ow * g.stride - g.padLeft
                        // Columns kw in first..<last land inside the image; the rest are padding.
                        let first = insideRows ? min(max(0, -iw), g.kernel) : 0
                        let last = insideRows ? max(first, min(g.kernel, g.inputWidth - iw)) : 0
                        let src = imageRow + iw * channels
                        for j in 0..<(first * channels) { out[j] = 0 }
                        for j in (first * channels)..<(last * channels) { out[j] = src[j] }
                        for j in (last * channels)..<run { out[j] = 0 }
                    }
                }
            }
        }
    }

    /// The adjoint of `im2col`: adds every patch element back onto the pixel it came from.
    /// The image is zeroed first.
    public static func col2im(_ columns: UnsafePointer<Float>, batch: Int, _ g: ConvGeometry, channels: Int, into image: UnsafeMutablePointer<Float>) {
        let run = g.kernel * channels, patch = g.kernel * run
        image.update(repeating: 0, count: batch * g.inputHeight * g.inputWidth * channels)
        for n in 0..<batch {
            let imageBase = image + n * g.inputHeight * g.inputWidth * channels
            for oh in 0..<g.outputHeight {
                let rowBase = columns + (n * g.outputHeight + oh) * g.outputWidth * patch
                for kh in 0..<g.kernel {
                    let ih = oh * g.stride - g.padTop + kh
                    guard ih >= 0 && ih < g.inputHeight else { continue }
                    let imageRow = imageBase + ih * g.inputWidth * channels
                    for ow in 0..<g.outputWidth {
                        let src = rowBase + ow * patch + kh * run
                        let iw = ow * g.stride - g.padLeft
                        let first = max(0, -iw), last = min(g.kernel, g.inputWidth - iw)  // kw inside the image
                        guard first < last else { continue }
                        let dst = imageRow + (iw + first) * channels
                        let from = src + first * channels
                        for j in 0..<(last - first) * channels { dst[j] += from[j] }
                    }
                }
            }
        }
    }
}

/// The spatial geometry of a K×K convolution with Keras/TensorFlow `'same'` padding:
/// output = ⌈input / stride⌉, total padding max((output − 1)·stride + K − input, 0), the odd pixel at the end.
public struct ConvGeometry: Sendable, Equatable {
    public let inputHeight, inputWidth, outputHeight, outputWidth: Int
    public let kernel, stride, padTop, padLeft: Int

    /// The padding after the last row and column: the rest of the total, the odd pixel included.
    public var padBottom: Int { max((outputHeight - 1) * stride + kernel - inputHeight, 0) - padTop }
    public var padRight: Int { max((outputWidth - 1) * stride + kernel - inputWidth, 0) - padLeft }

    public static func same(inputHeight: Int, inputWidth: Int, kernel: Int, stride: Int) -> ConvGeometry {
        let outH = (inputHeight + stride - 1) / stride
        let outW = (inputWidth + stride - 1) / stride
        let padH = max((outH - 1) * stride + kernel - inputHeight, 0)
        let padW = max((outW - 1) * stride + kernel - inputWidth, 0)
        return ConvGeometry(
            inputHeight: inputHeight, inputWidth: inputWidth, outputHeight: outH, outputWidth: outW,
            kernel: kernel, stride: stride, padTop: padH / 2, padLeft: padW / 2)
    }
}
