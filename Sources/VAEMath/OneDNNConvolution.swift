// OneDNNConvolution: the ConvolutionKernel on oneDNN's convolution primitives (forward, backward-data,
// backward-weights), fp32, activations in oneDNN's nhwc (our NHWC), the Keras kernel [K, K, Cin, Cout] as
// oneDNN's hwio. Keras 'same' padding is asymmetric: padding_l/padding_r carry the (top, left) and the
// (bottom, right) halves, the odd pixel at the end.
//
// Primitives are built once per batch size and reused. oneDNN picks the weights layout it computes in;
// when that is not hwio, a reorder converts the parameters before each product. Backward-weights
// overwrites its output, so it writes a scratch and a reorder with a sum post-op adds that into ∂W.
// Two exceptions, where oneDNN's backward-data (a decoder's last layer, run forward) is slow for few input
// channels: stride 2 goes to a sub-pixel convolution (SubpixelBackwardData), and a single input channel
// otherwise to im2col, 0.49 ms against ~0.15 ms for GEMM+col2im at 28×28×32→1, batch 8.

import CDNNL

/// The process's oneDNN CPU engine and the C-API plumbing.
enum OneDNN {
    nonisolated(unsafe) static let engine: dnnl_engine_t = {
        var engine: dnnl_engine_t?
        check(dnnl_engine_create(&engine, dnnl_cpu, 0), "creating the CPU engine")
        return engine!
    }()

    static func check(_ status: dnnl_status_t, _ what: @autoclosure () -> String) {
        precondition(status == dnnl_success, "oneDNN: \(what()) failed with status \(status.rawValue)")
    }

    /// Logical dims (N, C, H, W for activations, O, I, H, W for weights) in a physical format.
    static func descriptor(_ dims: [Int], _ tag: dnnl_format_tag_t) -> dnnl_memory_desc_t {
        var md = dnnl_memory_desc_t()
        check(dnnl_memory_desc_init_by_tag(&md, Int32(dims.count), dims.map(Int64.init), dnnl_f32, tag), "describing \(dims)")
        return md
    }

    /// A memory object; without `allocate` its buffer is set before each use.
    static func memory(_ md: UnsafePointer<dnnl_memory_desc_t>, allocate: Bool) -> dnnl_memory_t {
        var memory: dnnl_memory_t?
        check(dnnl_memory_create(&memory, md, engine, allocate ? UnsafeMutableRawPointer(bitPattern: -1) : nil), "creating memory")
        return memory!
    }

    static func bind(_ memory: dnnl_memory_t, _ pointer: UnsafePointer<Float>) {
        check(dnnl_memory_set_data_handle(memory, UnsafeMutableRawPointer(mutating: pointer)), "binding a buffer")
    }

    /// A convolution's primitive descriptor, with a user scratchpad; backward ones take the forward's as `hint`.
    static func primitiveDescriptor(_ op: UnsafeRawPointer, hint: dnnl_primitive_desc_t? = nil) -> dnnl_primitive_desc_t {
        let attr = attributes(accumulate: false)
        defer { dnnl_primitive_attr_destroy(attr) }
        var descriptor: dnnl_primitive_desc_t?
        check(dnnl_primitive_desc_create(&descriptor, op, attr, engine, hint), "creating a convolution")
        return descriptor!
    }

    /// An attribute with a user scratchpad and, if asked, a sum post-op (dst += result).
    static func attributes(accumulate: Bool) -> dnnl_primitive_attr_t {
        var attr: dnnl_primitive_attr_t?
        check(dnnl_primitive_attr_create(&attr), "creating attributes")
        check(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "setting the scratchpad mode")
        if accumulate {
            var postOps: dnnl_post_ops_t?
            check(dnnl_post_ops_create(&postOps), "creating post-ops")
            check(dnnl_post_ops_append_sum(postOps, 1), "appending a sum")
            check(dnnl_primitive_attr_set_post_ops(attr, postOps), "setting post-ops")
            dnnl_post_ops_destroy(postOps)
        }
        return attr!
    }
}

/// A primitive with its own scratchpad.
final class OneDNNPrimitive {
    private let primitive: dnnl_primitive_t
    private let scratchpad: dnnl_memory_t?

    /// Takes ownership of `descriptor`.
    init(_ descriptor: dnnl_primitive_desc_t) {
        defer { dnnl_primitive_desc_destroy(descriptor) }
        var primitive: dnnl_primitive_t?
        OneDNN.check(dnnl_primitive_create(&primitive, descriptor), "creating a primitive")
        self.primitive = primitive!
        let md = dnnl_primitive_desc_query_md(descriptor, dnnl_query_scratchpad_md, 0)!
        scratchpad = dnnl_memory_desc_get_size(md) > 0 ? OneDNN.memory(md, allocate: true) : nil
    }

    /// A reorder from one layout to another, adding into the destination when `accumulate`.
    convenience init(reorderFrom source: UnsafePointer<dnnl_memory_desc_t>, to destination: UnsafePointer<dnnl_memory_desc_t>,
                     accumulate: Bool) {
        let attr = OneDNN.attributes(accumulate: accumulate)
        defer { dnnl_primitive_attr_destroy(attr) }
        var descriptor: dnnl_primitive_desc_t?
        OneDNN.check(dnnl_reorder_primitive_desc_create(&descriptor, source, OneDNN.engine, destination, OneDNN.engine, attr),
                     "creating a reorder")
        self.init(descriptor!)
    }

    deinit {
        dnnl_primitive_destroy(primitive)
        if let scratchpad { dnnl_memory_destroy(scratchpad) }
    }

    func execute(_ stream: dnnl_stream_t, _ arguments: [(Int32, dnnl_memory_t)]) {
        var args = arguments.map { dnnl_exec_arg_t(arg: $0.0, memory: $0.1) }
        if let scratchpad { args.append(dnnl_exec_arg_t(arg: DNNL_ARG_SCRATCHPAD, memory: scratchpad)) }
        OneDNN.check(dnnl_primitive_execute(primitive, stream, Int32(args.count), args), "executing a primitive")
    }
}

final class OneDNNConvolution: ConvolutionKernel {
    private let geometry: ConvGeometry
    private let inputChannels, outputChannels: Int
    private let stream: dnnl_stream_t
    private var plans: [Int: Plan] = [:]
    private var latestInput: (pointer: UnsafePointer<Float>, batch: Int)?
    /// Backward-data where oneDNN's own is slow for few input channels (see the top of the file).
    private let subpixelData: SubpixelBackwardData?
    private let singleChannelData: Im2colConvolution?

    init(geometry: ConvGeometry, inputChannels: Int, outputChannels: Int) {
        self.geometry = geometry
        self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        var stream: dnnl_stream_t?
        OneDNN.check(dnnl_stream_create(&stream, OneDNN.engine, dnnl_stream_default_flags.rawValue), "creating a stream")
        self.stream = stream!
        subpixelData = SubpixelBackwardData(geometry: geometry, inputChannels: inputChannels, outputChannels: outputChannels,
                                            stream: self.stream)
        singleChannelData = inputChannels == 1 && subpixelData == nil
            ? Im2colConvolution(geometry: geometry, inputChannels: inputChannels, outputChannels: outputChannels) : nil
    }

    deinit {
        plans.removeAll()
        dnnl_stream_destroy(stream)
    }

    private func plan(_ batch: Int) -> Plan {
        if let plan = plans[batch] { return plan }
        let plan = Plan(geometry, inputChannels: inputChannels, outputChannels: outputChannels, batch: batch)
        plans[batch] = plan
        return plan
    }

    func forward(_ input: UnsafePointer<Float>, weights: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>, batch: Int) {
        let p = plan(batch)
        latestInput = (input, batch)
        OneDNN.bind(p.input, input)
        OneDNN.bind(p.output, output)
        p.forward.execute(stream, [(DNNL_ARG_SRC, p.input), (DNNL_ARG_WEIGHTS, p.forwardWeights.prepare(weights, stream)),
                                   (DNNL_ARG_DST, p.output)])
    }

    func backwardData(_ outputGradient: UnsafePointer<Float>, weights: UnsafePointer<Float>,
                      into inputGradient: UnsafeMutablePointer<Float>, batch: Int) {
        if let subpixelData {
            return subpixelData.run(outputGradient, weights: weights, into: inputGradient, batch: batch)
        }
        if let singleChannelData {
            return singleChannelData.backwardData(outputGradient, weights: weights, into: inputGradient, batch: batch)
        }
        let p = plan(batch)
        OneDNN.bind(p.outputGradient, outputGradient)
        OneDNN.bind(p.inputGradient, inputGradient)
        p.backwardData.execute(stream, [(DNNL_ARG_DIFF_DST, p.outputGradient),
                                        (DNNL_ARG_WEIGHTS, p.dataWeights.prepare(weights, stream)),
                                        (DNNL_ARG_DIFF_SRC, p.inputGradient)])
    }

    func accumulateWeightGradient(_ outputGradient: UnsafePointer<Float>, into weightGradient: UnsafeMutablePointer<Float>, batch: Int) {
        guard let input = latestInput, input.batch == batch else {
            preconditionFailure("weight gradient for batch \(batch) without a forward of that batch")
        }
        let p = plan(batch)
        OneDNN.bind(p.input, input.pointer)
        OneDNN.bind(p.outputGradient, outputGradient)
        OneDNN.bind(p.kerasWeights, weightGradient)
        p.backwardWeights.execute(stream, [(DNNL_ARG_SRC, p.input), (DNNL_ARG_DIFF_DST, p.outputGradient),
                                           (DNNL_ARG_DIFF_WEIGHTS, p.weightGradient)])
        p.accumulate.execute(stream, [(DNNL_ARG_FROM, p.weightGradient), (DNNL_ARG_TO, p.kerasWeights)])
    }
}

/// The primitives and memory objects of one convolution at one batch size.
private final class Plan {
    /// Over the callers' buffers, rebound before each call: NHWC activations and a Keras-layout kernel.
    let input, output, inputGradient, outputGradient, kerasWeights: dnnl_memory_t
    let forward, backwardData, backwardWeights, accumulate: OneDNNPrimitive
    let forwardWeights, dataWeights: WeightsInput
    /// Backward-weights' result in its own layout, before `accumulate` adds it into ∂W.
    let weightGradient: dnnl_memory_t

    init(_ g: ConvGeometry, inputChannels: Int, outputChannels: Int, batch: Int) {
        var src = OneDNN.descriptor([batch, inputChannels, g.inputHeight, g.inputWidth], dnnl_nhwc)
        var dst = OneDNN.descriptor([batch, outputChannels, g.outputHeight, g.outputWidth], dnnl_nhwc)
        var keras = OneDNN.descriptor([outputChannels, inputChannels, g.kernel, g.kernel], dnnl_hwio)
        var any = OneDNN.descriptor([outputChannels, inputChannels, g.kernel, g.kernel], dnnl_format_tag_any)
        let strides = [Int64(g.stride), Int64(g.stride)]
        let left = [Int64(g.padTop), Int64(g.padLeft)], right = [Int64(g.padBottom), Int64(g.padRight)]
        input = OneDNN.memory(&src, allocate: false)
        inputGradient = OneDNN.memory(&src, allocate: false)
        output = OneDNN.memory(&dst, allocate: false)
        outputGradient = OneDNN.memory(&dst, allocate: false)
        kerasWeights = OneDNN.memory(&keras, allocate: false)

        var forwardOp = dnnl_convolution_desc_t()
        OneDNN.check(dnnl_convolution_forward_desc_init(&forwardOp, dnnl_forward_training, dnnl_convolution_direct,
                                                        &src, &any, nil, &dst, strides, left, right), "describing \(g)")
        let forwardPD = OneDNN.primitiveDescriptor(&forwardOp)
        var dataOp = dnnl_convolution_desc_t()
        OneDNN.check(dnnl_convolution_backward_data_desc_init(&dataOp, dnnl_convolution_direct, &src, &any, &dst,
                                                              strides, left, right), "describing backward-data of \(g)")
        let dataPD = OneDNN.primitiveDescriptor(&dataOp, hint: forwardPD)
        var weightsOp = dnnl_convolution_desc_t()
        OneDNN.check(dnnl_convolution_backward_weights_desc_init(&weightsOp, dnnl_convolution_direct, &src, &any, nil, &dst,
                                                                 strides, left, right), "describing backward-weights of \(g)")
        let weightsPD = OneDNN.primitiveDescriptor(&weightsOp, hint: forwardPD)

        forwardWeights = WeightsInput(keras: kerasWeights, kerasDescriptor: &keras,
                                      wanted: dnnl_primitive_desc_query_md(forwardPD, dnnl_query_weights_md, 0)!)
        dataWeights = WeightsInput(keras: kerasWeights, kerasDescriptor: &keras,
                                   wanted: dnnl_primitive_desc_query_md(dataPD, dnnl_query_weights_md, 0)!)
        let gradientMD = dnnl_primitive_desc_query_md(weightsPD, dnnl_query_diff_weights_md, 0)!
        weightGradient = OneDNN.memory(gradientMD, allocate: true)
        accumulate = OneDNNPrimitive(reorderFrom: gradientMD, to: &keras, accumulate: true)
        // The primitives take the descriptors last: the weights descriptors above point into them.
        backwardWeights = OneDNNPrimitive(weightsPD)
        backwardData = OneDNNPrimitive(dataPD)
        forward = OneDNNPrimitive(forwardPD)
    }

    deinit {
        [input, output, inputGradient, outputGradient, kerasWeights, weightGradient].forEach { dnnl_memory_destroy($0) }
    }
}

/// The kernel as a primitive reads it: the Keras-layout buffer itself, or a reordered copy.
final class WeightsInput {
    private let keras: dnnl_memory_t
    private let reorder: OneDNNPrimitive?
    private let converted: dnnl_memory_t?

    init(keras: dnnl_memory_t, kerasDescriptor: UnsafePointer<dnnl_memory_desc_t>, wanted: UnsafePointer<dnnl_memory_desc_t>) {
        self.keras = keras
        if dnnl_memory_desc_equal(kerasDescriptor, wanted) != 0 {
            reorder = nil
            converted = nil
        } else {
            reorder = OneDNNPrimitive(reorderFrom: kerasDescriptor, to: wanted, accumulate: false)
            converted = OneDNN.memory(wanted, allocate: true)
        }
    }

    deinit { if let converted { dnnl_memory_destroy(converted) } }

    /// Binds `weights` and returns the memory to pass as the primitive's weights.
    func prepare(_ weights: UnsafePointer<Float>, _ stream: dnnl_stream_t) -> dnnl_memory_t {
        OneDNN.bind(keras, weights)
        guard let reorder, let converted else { return keras }
        reorder.execute(stream, [(DNNL_ARG_FROM, keras), (DNNL_ARG_TO, converted)])
        return converted
    }
}
