// The GDL_code convolutional VAE, built from an Architecture:
//   encoder: [Conv2D → (BatchNorm) → LeakyReLU → (Dropout)]… → flatten → Dense μ, Dense log σ²
//            (with BatchNorm, one layer does all three: see BatchNorm's epilogue)
//   sample:  z = μ + exp(log σ² / 2) · ε,  ε ~ N(0, I) drawn from (seed, epoch, global sample index, j)
//   decoder: Dense → reshape → [ConvTranspose2D → (BatchNorm) → LeakyReLU → (Dropout)]… → last: ConvTranspose2D → Sigmoid

import Foundation

public final class VariationalAutoencoder {
    public let architecture: Architecture
    public let parameters = ParameterStore()
    private let encoder: [Layer]
    private let mean, logVariance, decoderInput: Dense
    private let decoder: [Layer]
    private let latent, epsilon: Tensor
    private let meanGradient, logVarianceGradient, latentGradient, encodedGradient, outputGradient: Tensor
    /// The trainable offsets each layer owns, for the layers that own any.
    private let parameterRanges: [ObjectIdentifier: Range<Int>]
    /// Every layer's parameter range in the order `forwardBackward`'s backward pass completes them.
    public let backwardParameterRanges: [Range<Int>]
    /// Hears each layer's forward or backward pass, named, with its start and end, when set (a trace).
    public var layerTimer: ((_ layer: String, _ backward: Bool, _ start: ContinuousClock.Instant, _ end: ContinuousClock.Instant) -> Void)?
    /// "encoder.1 BatchNorm+LeakyReLU+Dropout", "mu Dense": each layer's name in a trace.
    private let layerNames: [ObjectIdentifier: String]

    /// `reservedTail`: spare Floats at the end of the reduction buffer, for the caller (see ParameterStore).
    public init(_ architecture: Architecture, seed: UInt64, convolutionBackend: ConvolutionBackend = .default, reservedTail: Int = 0) {
        self.architecture = architecture
        let a = architecture
        var shape = [a.inputHeight, a.inputWidth, a.inputChannels]
        var dropoutStream: UInt64 = 0
        var ranges: [ObjectIdentifier: Range<Int>] = [:]
        let store = parameters
        /// Builds a layer and notes the parameter offsets it declared.
        func owned<L: Layer>(_ make: () -> L) -> L {
            let first = store.count, layer = make()
            if store.count > first { ranges[ObjectIdentifier(layer)] = first..<store.count }
            return layer
        }
        /// BatchNorm with its LeakyReLU and Dropout fused in (the same bits, fewer passes), or the separate layers.
        func activations(_ prefix: String, _ shape: [Int], into layers: inout [Layer], store: ParameterStore) {
            defer { if a.useDropout { dropoutStream += 1 } }
            if a.useBatchNorm {
                let epilogue = BatchNorm.Epilogue(dropoutRate: a.useDropout ? a.dropoutRate : nil, dropoutStream: dropoutStream)
                layers.append(owned { BatchNorm(name: "\(prefix).batch_norm", store: store, shape: shape, epilogue: epilogue) })
                return
            }
            layers.append(LeakyReLU(shape: shape))
            if a.useDropout { layers.append(Dropout(shape: shape, rate: a.dropoutRate, stream: dropoutStream)) }
        }

        var encoderLayers: [Layer] = []
        for (i, spec) in a.encoder.enumerated() {
            let conv = owned {
                Conv2D(name: "encoder_conv_\(i)", store: store, inputHeight: shape[0], inputWidth: shape[1],
                       inputChannels: shape[2], filters: spec.filters, kernel: spec.kernel, stride: spec.stride,
                       backend: convolutionBackend)
            }
            conv.computesInputGradient = i > 0
            encoderLayers.append(conv)
            shape = conv.outputShape
            activations("encoder_\(i)", shape, into: &encoderLayers, store: parameters)
        }
        encoder = encoderLayers
        let encoded = shape
        mean = owned { Dense(name: "mu", store: store, inputShape: encoded, outputShape: [a.zDim]) }
        logVariance = owned { Dense(name: "log_var", store: store, inputShape: encoded, outputShape: [a.zDim]) }
        decoderInput = owned { Dense(name: "decoder_dense", store: store, inputShape: [a.zDim], outputShape: encoded) }

        var decoderLayers: [Layer] = []
        for (i, spec) in a.decoder.enumerated() {
            let conv = owned {
                ConvTranspose2D(name: "decoder_conv_t_\(i)", store: store, inputHeight: shape[0],
                                inputWidth: shape[1], inputChannels: shape[2],
                                filters: spec.filters, kernel: spec.kernel, stride: spec.stride,
                                backend: convolutionBackend)
            }
            decoderLayers.append(conv)
            shape = conv.outputShape
            if i < a.decoder.count - 1 {
                activations("decoder_\(i)", shape, into: &decoderLayers, store: parameters)
            } else {
                decoderLayers.append(Sigmoid(shape: shape))
            }
        }
        decoder = decoderLayers
        precondition(shape == [a.inputHeight, a.inputWidth, a.inputChannels],
                     "decoder output \(shape) does not match the input shape")

        latent = Tensor(batch: 0, itemShape: [a.zDim])
        epsilon = Tensor(batch: 0, itemShape: [a.zDim])
        meanGradient = Tensor(batch: 0, itemShape: [a.zDim])
        logVarianceGradient = Tensor(batch: 0, itemShape: [a.zDim])
        latentGradient = Tensor(batch: 0, itemShape: [a.zDim])
        encodedGradient = Tensor(batch: 0, itemShape: encoded)
        outputGradient = Tensor(batch: 0, itemShape: shape)
        parameterRanges = ranges
        layerNames = Self.names(encoderLayers, part: "encoder").merging(Self.names(decoderLayers, part: "decoder")) { $1 }
            .merging([(mean, "mu"), (logVariance, "log_var"), (decoderInput, "decoder_dense")].map { (ObjectIdentifier($0.0), $0.1 + " Dense") }) { $1 }
        let backwardOrder: [Layer] = decoder.reversed() + [decoderInput, mean, logVariance] + encoder.reversed()
        backwardParameterRanges = backwardOrder.compactMap { ranges[ObjectIdentifier($0)] }
        parameters.allocate(seed: seed, reservedTail: reservedTail)
    }

    /// Blocks of layers, each starting at a convolution, named "PART.BLOCK TYPE".
    private static func names(_ layers: [Layer], part: String) -> [ObjectIdentifier: String] {
        var block = -1
        return Dictionary(uniqueKeysWithValues: layers.map { layer in
            if layer is Conv2D || layer is ConvTranspose2D { block += 1 }
            return (ObjectIdentifier(layer), "\(part).\(block) \((layer as? CustomStringConvertible)?.description ?? "\(type(of: layer))")")
        })
    }

    private func forward(_ layer: Layer, _ input: Tensor, _ context: StepContext) -> Tensor {
        guard let layerTimer else { return layer.forward(input, context) }
        let start = ContinuousClock.now, output = layer.forward(input, context)
        layerTimer(layerNames[ObjectIdentifier(layer)]!, false, start, .now)
        return output
    }

    /// Encoder: images → (μ, log σ²). The returned tensors belong to the model and change on the next call.
    public func encode(_ images: Tensor, _ context: StepContext) -> (mean: Tensor, logVariance: Tensor) {
        let h = encoder.reduce(images) { forward($1, $0, context) }
        return (forward(mean, h, context), forward(logVariance, h, context))
    }

    /// Decoder: z → images in [0, 1].
    public func decode(_ z: Tensor, _ context: StepContext) -> Tensor {
        decoder.reduce(forward(decoderInput, z, context)) { forward($1, $0, context) }
    }

    /// z = μ + exp(log σ² / 2) · ε, ε drawn per (epoch, global sample index, latent dimension).
    private func sampleLatent(_ mu: Tensor, _ logVar: Tensor, _ context: StepContext) -> Tensor {
        precondition(context.sampleIndices.count == mu.batch, "one sample index per batch row is needed")
        latent.resize(batch: mu.batch)
        epsilon.resize(batch: mu.batch)
        let d = architecture.zDim
        for row in 0..<mu.batch {
            for j in 0..<d {
                let i = row * d + j
                epsilon[i] = CounterRandom.normal(seed: context.seed, purpose: .latentNoise, UInt64(context.epoch),
                                                  UInt64(context.sampleIndices[context.sampleIndices.startIndex + row]), UInt64(j))
                latent[i] = mu[i] + expf(logVar[i] / 2) * epsilon[i]
            }
        }
        return latent
    }

    /// Forward, loss and backward for one batch: *adds* ∂(Σ per-image loss / globalBatch)/∂parameters into the
    /// gradient buffer, the KL term weighted by `klWeight`, and returns the loss sums over this batch.
    /// `gradientsReady` hears each layer's parameter range as soon as its gradients are complete, in the order
    /// of `backwardParameterRanges`.
    @discardableResult
    public func forwardBackward(_ images: Tensor, _ context: StepContext, rLossFactor: Float, klWeight: Float = 1, globalBatch: Int,
                                gradientsReady: ((Range<Int>) -> Void)? = nil) -> LossSums {
        /// One layer's backward, then the news that its gradients are complete.
        func backward(_ layer: Layer, _ gradient: Tensor) -> Tensor {
            let start = layerTimer == nil ? nil : ContinuousClock.now
            let inputGradient = layer.backward(gradient, context)
            if let layerTimer, let start { layerTimer(layerNames[ObjectIdentifier(layer)]!, true, start, .now) }
            if let gradientsReady, let range = parameterRanges[ObjectIdentifier(layer)] { gradientsReady(range) }
            return inputGradient
        }
        let (mu, logVar) = encode(images, context)
        let z = sampleLatent(mu, logVar, context)
        let reconstruction = decode(z, context)
        let n = images.batch
        let reconstructionSum = VAELoss.reconstruction(target: images, output: reconstruction, factor: rLossFactor,
                                                       globalBatch: globalBatch, gradient: outputGradient)
        let dz = backward(decoderInput, decoder.reversed().reduce(outputGradient) { backward($1, $0) })

        // ∂z/∂μ = 1, ∂z/∂log σ² = ½·exp(log σ² / 2)·ε; then the KL term adds its own gradient.
        meanGradient.resize(batch: n)
        logVarianceGradient.resize(batch: n)
        for i in 0..<dz.count {
            meanGradient[i] = dz[i]
            logVarianceGradient[i] = dz[i] * 0.5 * expf(logVar[i] / 2) * epsilon[i]
        }
        let sums = LossSums(reconstruction: reconstructionSum,
                            kl: VAELoss.klDivergence(mean: mu, logVariance: logVar, globalBatch: globalBatch, weight: klWeight,
                                                     meanGradient: meanGradient, logVarianceGradient: logVarianceGradient),
                            samples: n).weighting(kl: klWeight)

        encodedGradient.copy(from: backward(mean, meanGradient))
        let fromLogVariance = backward(logVariance, logVarianceGradient)
        for i in 0..<encodedGradient.count { encodedGradient.pointer[i] += fromLogVariance.pointer[i] }
        _ = encoder.reversed().reduce(encodedGradient) { backward($1, $0) }
        return sums
    }

    /// The loss over a batch, the KL term weighted by `klWeight`, without touching gradients (inference mode
    /// unless `context.training`).
    public func evaluate(_ images: Tensor, _ context: StepContext, rLossFactor: Float, klWeight: Float = 1) -> LossSums {
        let (mu, logVar) = encode(images, context)
        let reconstruction = decode(sampleLatent(mu, logVar, context), context)
        meanGradient.resize(batch: images.batch)
        logVarianceGradient.resize(batch: images.batch)
        let sums = LossSums(reconstruction: VAELoss.reconstruction(target: images, output: reconstruction, factor: rLossFactor,
                                                                   globalBatch: images.batch, gradient: outputGradient),
                            kl: VAELoss.klDivergence(mean: mu, logVariance: logVar, globalBatch: images.batch,
                                                     meanGradient: meanGradient, logVarianceGradient: logVarianceGradient),
                            samples: images.batch)
        return sums.weighting(kl: klWeight)
    }
}
