// Every input known to have crashed a parser or made it allocate wildly (Fuzz/regressions/TARGET), and the
// fuzzer's seeds (Fuzz/corpus/TARGET), replayed through the same check as launch/testing/fuzz.sh: the parser returns
// or throws a VAEError. A regression that traps again stops this test process, as it would stop the fuzzer.

import Foundation
import FuzzTargets
import TestSupport
import Testing

struct FuzzRegressionTests {
    /// TARGET/FILE under Fuzz/regressions and Fuzz/corpus, one argument per file.
    static let inputs: [String] = ["regressions", "corpus"].flatMap { folder -> [String] in
        let root = packageRoot.appendingPathComponent("Fuzz/\(folder)").path
        let targets = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return targets.flatMap { target in
            ((try? FileManager.default.contentsOfDirectory(atPath: root + "/" + target)) ?? []).map { "\(folder)/\(target)/\($0)" }
        }
    }.sorted()

    @Test(arguments: inputs)
    func parserReturnsOrThrowsAVAEError(_ input: String) throws {
        let target = input.split(separator: "/")[1]
        let bytes = try Data(contentsOf: packageRoot.appendingPathComponent("Fuzz/" + input))
        let error = FuzzTargets.unexpectedError(String(target), Array(bytes))
        #expect(error == nil, "\(input): \(String(describing: error))")
    }

    @Test func everyTargetHasSeeds() {
        for target in FuzzTargets.parsers.keys {
            #expect(Self.inputs.contains { $0.hasPrefix("corpus/\(target)/") }, "no seed in Fuzz/corpus/\(target)")
        }
    }
}
