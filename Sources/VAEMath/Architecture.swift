// Architecture: the shape of the GDL_code convolutional VAE, as plain numbers the config fills in.

public struct ConvSpec: Sendable, Equatable {
    public var filters: Int
    public var kernel: Int
    public var stride: Int

    public init(filters: Int, kernel: Int, stride: Int) {
        self.filters = filters
        self.kernel = kernel
        self.stride = stride
    }
}

public struct Architecture: Sendable, Equatable {
    public var inputHeight: Int
    public var inputWidth: Int
    public var inputChannels: Int
    public var encoder: [ConvSpec]
    public var decoder: [ConvSpec]
    public var zDim: Int
    public var useBatchNorm: Bool
    public var useDropout: Bool
    public var dropoutRate: Float

    public init(inputHeight: Int, inputWidth: Int, inputChannels: Int, encoder: [ConvSpec], decoder: [ConvSpec],
                zDim: Int, useBatchNorm: Bool = false, useDropout: Bool = false, dropoutRate: Float = 0.25) {
        self.inputHeight = inputHeight
        self.inputWidth = inputWidth
        self.inputChannels = inputChannels
        self.encoder = encoder
        self.decoder = decoder
        self.zDim = zDim
        self.useBatchNorm = useBatchNorm
        self.useDropout = useDropout
        self.dropoutRate = dropoutRate
    }

    /// The book's digits model: 28×28×1, z 2, filters 32-64-64-64 / 64-64-32-1, strides 1-2-2-1 / 1-2-2-1.
    public static let gdlDigits = Architecture(
        inputHeight: 28, inputWidth: 28, inputChannels: 1,
        encoder: zip([32, 64, 64, 64], [1, 2, 2, 1]).map { ConvSpec(filters: $0, kernel: 3, stride: $1) },
        decoder: zip([64, 64, 32, 1], [1, 2, 2, 1]).map { ConvSpec(filters: $0, kernel: 3, stride: $1) },
        zDim: 2)

    /// Height, width and channels after the encoder ('same' padding: ⌈size / stride⌉ per layer).
    public var encodedShape: [Int] {
        var h = inputHeight, w = inputWidth
        for layer in encoder {
            h = (h + layer.stride - 1) / layer.stride
            w = (w + layer.stride - 1) / layer.stride
        }
        return [h, w, encoder.last?.filters ?? inputChannels]
    }

    /// Height, width and channels the decoder produces from `encodedShape` (size · stride per layer); a size
    /// past Int.max, which a config listing many stride-2 layers can ask for, stays at Int.max.
    public var decodedShape: [Int] {
        var h = encodedShape[0], w = encodedShape[1]
        for layer in decoder {
            h = h.multipliedReportingOverflow(by: layer.stride).overflow ? .max : h * layer.stride
            w = w.multipliedReportingOverflow(by: layer.stride).overflow ? .max : w * layer.stride
        }
        return [h, w, decoder.last?.filters ?? encodedShape[2]]
    }

    /// Multiply-adds per image in one forward pass, counted from the layer shapes.
    public var forwardMultiplyAdds: Int {
        var total = 0, h = inputHeight, w = inputWidth, c = inputChannels
        for layer in encoder {
            h = (h + layer.stride - 1) / layer.stride
            w = (w + layer.stride - 1) / layer.stride
            total += h * w * layer.filters * layer.kernel * layer.kernel * c
            c = layer.filters
        }
        let flat = h * w * c
        total += 2 * flat * zDim + zDim * flat
        for layer in decoder {
            total += h * w * c * layer.kernel * layer.kernel * layer.filters
            h *= layer.stride
            w *= layer.stride
            c = layer.filters
        }
        return total
    }
}
