// The parsers of files a user hands us, each as a function of raw bytes, for the libFuzzer harness
// (Fuzz/Harness) and for the regression test that replays Fuzz/regressions. Every one must end in a
// value or a VAEError, whatever the bytes: any other error, a trap or a hang is a bug in the parser.

import Foundation
import VAECheckpoint
import VAEConfig
import VAEData
import VAESupport

public enum FuzzTargets {
    /// Each parser by harness name; Fuzz/corpus/NAME and Fuzz/regressions/NAME hold its inputs.
    public static let parsers: [String: @Sendable ([UInt8]) throws -> Void] = [
        "idx": { _ = try IDXFile(fileBytes: $0, source: "fuzz.idx") },
        "safetensors": { _ = try SafetensorsFile(bytes: $0, source: "fuzz.safetensors") },
        "state": { _ = try CheckpointState.decode(Data($0), path: "state.json") },
        "config": { _ = try TrainingConfig.parse(yaml: Data($0), source: "fuzz.yaml") },
        // Decoded as RGB, then made grey, so both of RasterImage's conversions run too.
        "image": { _ = try ImageDecoder.decode($0, source: "fuzz.img", channels: 3).converted(toChannels: 1) },
        "attributes": { bytes in
            let table = try AttributeTable(Data(bytes), path: "fuzz.csv")
            if let first = table.attributes.first { _ = try table.split(by: first) }
        },
    ]

    /// Runs parser `name` on `bytes`: nil if it returned or threw a VAEError, else the error it threw.
    public static func unexpectedError(_ name: String, _ bytes: [UInt8]) -> (any Error)? {
        guard let parser = parsers[name] else { return VAEError("no fuzz target \(name) (known: \(parsers.keys.sorted().joined(separator: ", ")))") }
        do { try parser(bytes) } catch is VAEError { return nil } catch { return error }
        return nil
    }
}
