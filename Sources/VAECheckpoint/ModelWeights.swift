// ModelWeights: a model's parameters and batch-norm statistics as a safetensors file, one tensor per
// named entry (Keras-style names such as `encoder_conv_0.kernel`, in Keras's layouts), and back.

import VAEMath
import VAESupport

public enum ModelWeights {
    /// Every entry of the model's store, trainable and not, in declaration order.
    public static func file(of model: VariationalAutoencoder) -> SafetensorsFile {
        let p = model.parameters
        return SafetensorsFile(tensors: p.entries.map { entry in
            let base = (entry.trainable ? p.values : p.state) + entry.slot.offset
            return (entry.name, entry.shape, Array(UnsafeBufferPointer(start: base, count: entry.slot.count)))
        })
    }

    /// Copies the file's tensors into the model; every entry must be present with its shape.
    public static func load(_ file: SafetensorsFile, into model: VariationalAutoencoder, source: String) throws {
        let p = model.parameters
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
            let base = (entry.trainable ? p.values : p.state) + entry.slot.offset
            tensor.values.withUnsafeBufferPointer { base.update(from: $0.baseAddress!, count: entry.slot.count) }
        }
    }
}
