// SubpixelBackwardData: backward-data of a stride-2, 3×3 'same' convolution with few input channels (the
// faces decoder's last transposed convolution, 64×64×32 → 128×128×3, run forward), computed as a sub-pixel
// convolution. oneDNN's backward-data pads those 3 channels to a 16-lane vector and ran at 40 GFLOP/s,
// 1.42 ms a batch of 8 in a training step; one stride-1 2×2 convolution whose 4·C output channels are the
// four output phases, then a pixel shuffle, takes 0.86 ms.
//
// With no padding before the first row (Keras 'same' at an even size), output row 2m + py gathers input
// rows m − 1 + ty, ty ∈ {0, 1}, through kernel row ky = 2(1 − ty) + py; ky = 3 (py = 1, ty = 0) is no tap,
// a zero in the phase kernel. Columns alike.

import CDNNL

final class SubpixelBackwardData {
    private let geometry: ConvGeometry
    /// C: the convolution's input channels, this product's output channels.
    private let channels, outputChannels: Int
    private let stream: dnnl_stream_t
    private var plans: [Int: SubpixelPlan] = [:]
    /// The phase kernel in oneDNN's hwio: [2, 2, outputChannels, 4·C], rebuilt from W before each product.
    private let phaseKernel: UnsafeMutablePointer<Float>
    private let phases: Tensor

    /// Nil where the sub-pixel form does not apply or would not pay: only under 16 channels is oneDNN's
    /// own backward-data slow.
    init?(geometry g: ConvGeometry, inputChannels: Int, outputChannels: Int, stream: dnnl_stream_t) {
        guard g.stride == 2, g.kernel == 3, g.padTop == 0, g.padLeft == 0, inputChannels < 16,
              g.inputHeight == 2 * g.outputHeight, g.inputWidth == 2 * g.outputWidth else { return nil }
        geometry = g
        channels = inputChannels
        self.outputChannels = outputChannels
        self.stream = stream
        phaseKernel = .allocate(capacity: 4 * outputChannels * 4 * inputChannels)
        phases = Tensor(batch: 0, itemShape: [g.outputHeight, g.outputWidth, 4 * inputChannels])
    }

    deinit { phaseKernel.deallocate() }

    /// ∂x[batch, H, W, C] = ∂y ⋆ᵀ W, overwriting ∂x; W in Keras's [3, 3, C, outputChannels].
    func run(_ outputGradient: UnsafePointer<Float>, weights: UnsafePointer<Float>, into inputGradient: UnsafeMutablePointer<Float>,
             batch: Int) {
        let plan = plan(batch)
        fillPhaseKernel(weights)
        phases.resize(batch: batch)
        OneDNN.bind(plan.input, outputGradient)
        OneDNN.bind(plan.output, phases.pointer)
        plan.convolution.execute(stream, [(DNNL_ARG_SRC, plan.input), (DNNL_ARG_WEIGHTS, plan.weights.prepare(phaseKernel, stream)),
                                          (DNNL_ARG_DST, plan.output)])
        shuffle(phases.pointer, into: inputGradient, batch: batch)
    }

    private func plan(_ batch: Int) -> SubpixelPlan {
        if let plan = plans[batch] { return plan }
        let plan = SubpixelPlan(geometry, channels: channels, outputChannels: outputChannels, batch: batch)
        plans[batch] = plan
        return plan
    }

    private func fillPhaseKernel(_ weights: UnsafePointer<Float>) {
        let (c, o) = (channels, outputChannels)
        for ty in 0..<2 { for tx in 0..<2 { for k in 0..<o { for py in 0..<2 { for px in 0..<2 {
            let ky = 2 * (1 - ty) + py, kx = 2 * (1 - tx) + px
            let row = phaseKernel + ((ty * 2 + tx) * o + k) * 4 * c + (py * 2 + px) * c
            for ci in 0..<c { row[ci] = ky < 3 && kx < 3 ? weights[((ky * 3 + kx) * c + ci) * o + k] : 0 }
        } } } } }
    }

    /// x[n, 2m + py, 2l + px, c] = phases[n, m, l, (2py + px)·C + c].
    private func shuffle(_ phases: UnsafePointer<Float>, into x: UnsafeMutablePointer<Float>, batch: Int) {
        let (h, w, c) = (geometry.outputHeight, geometry.outputWidth, channels)
        for n in 0..<batch { for m in 0..<h { for py in 0..<2 {
            let target = x + ((n * 2 * h + 2 * m + py) * 2 * w) * c
            let source = phases + ((n * h + m) * w) * 4 * c + 2 * py * c
            for l in 0..<w { (target + 2 * l * c).update(from: source + l * 4 * c, count: 2 * c) }
        } } }
    }
}

/// The sub-pixel convolution's primitive and memory objects at one batch size.
private final class SubpixelPlan {
    let input, output, kernel: dnnl_memory_t
    let convolution: OneDNNPrimitive
    let weights: WeightsInput

    init(_ g: ConvGeometry, channels: Int, outputChannels: Int, batch: Int) {
        var src = OneDNN.descriptor([batch, outputChannels, g.outputHeight, g.outputWidth], dnnl_nhwc)
        var dst = OneDNN.descriptor([batch, 4 * channels, g.outputHeight, g.outputWidth], dnnl_nhwc)
        var hwio = OneDNN.descriptor([4 * channels, outputChannels, 2, 2], dnnl_hwio)
        var any = OneDNN.descriptor([4 * channels, outputChannels, 2, 2], dnnl_format_tag_any)
        input = OneDNN.memory(&src, allocate: false)
        output = OneDNN.memory(&dst, allocate: false)
        kernel = OneDNN.memory(&hwio, allocate: false)
        var op = dnnl_convolution_desc_t()
        OneDNN.check(dnnl_convolution_forward_desc_init(&op, dnnl_forward_training, dnnl_convolution_direct, &src, &any, nil, &dst,
                                                        [1, 1], [1, 1], [0, 0]), "describing the sub-pixel convolution of \(g)")
        let descriptor = OneDNN.primitiveDescriptor(&op)
        weights = WeightsInput(keras: kernel, kerasDescriptor: &hwio,
                               wanted: dnnl_primitive_desc_query_md(descriptor, dnnl_query_weights_md, 0)!)
        convolution = OneDNNPrimitive(descriptor)
    }

    deinit { [input, output, kernel].forEach { dnnl_memory_destroy($0) } }
}
