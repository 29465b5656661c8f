// ModelWeights: a model's parameters and batch-norm statistics as a safetensors file, one tensor per
// named entry (Keras-style names such as `encoder_conv_0.kernel`, in Keras's layouts), and back.

import VAEMath
import VAESupport

public enum ModelWeights {
    /// Every entry of the model's store, trainable and not, in declaration order; the trained values from
    /// `values` when given (a WeightAverage's, laid out as the model's).
    public static func file(of model: VariationalAutoencoder, values: UnsafePointer<Float>? = nil) -> SafetensorsFile {
        let p = model.parameters
        return SafetensorsFile(tensors: p.entries.map { entry in
            let base = (entry.trainable ? values ?? UnsafePointer(p.values) : UnsafePointer(p.state)) + entry.slot.offset
            return (entry.name, entry.shape, Array(UnsafeBufferPointer(start: base, count: entry.slot.count)))
        })
    }

    /// Copies the file's tensors into the model; every entry must be present with its shape.
    public static func load(_ file: SafetensorsFile, into model: VariationalAutoencoder, source: String) throws {
        try load(file, into: model.parameters, values: model.parameters.values, source: source)
    }

    /// Copies the file's trained tensors into `values` (laid out as `p`'s values: the model's own, or a
    /// WeightAverage's) and the others into `p`'s state.
    public static func load(_ file: SafetensorsFile, into p: ParameterStore, values: UnsafeMutablePointer<Float>, source: String) throws {
        let expected = Set(p.entries.map(\.name))
        if let extra = file.tensors.first(where: { !expected.contains($0.name) }) {
            throw VAEError("\(source): tensor \(extra.name) is not part of this model (does the config's model section match the checkpoint's?)")
        }
        for entry in p.entries {
            guard let tensor = file.tensor(named: entry.name) else {
                throw VAEError("\(source): tensor \(entry.name) is missing")
            }
            guard tensor.shape == entry.shape else {
                throw VAEError("\(source): tensor \(entry.name) has shape \(tensor.shape), the model needs \(entry.shape)")
            }
            let base = (entry.trainable ? values : p.state) + entry.slot.offset
            tensor.values.withUnsafeBufferPointer { base.update(from: $0.baseAddress!, count: entry.slot.count) }
        }
    }
}
