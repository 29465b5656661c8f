// vae-fuzz: one parser of FuzzTargets under libFuzzer, chosen by VAE_FUZZ_TARGET. launch/testing/fuzz.sh builds it
// with -sanitize=fuzzer and -DFUZZING, and main hands the command line to libFuzzer's driver (SwiftPM names
// every executable's entry point itself, so libFuzzer's own main cannot be the one). A plain build has no
// libFuzzer to link, so its main is `vae-fuzz TARGET FILE...`, which replays files (a crash libFuzzer saved,
// say) through the same check.

import Foundation
import FuzzTargets

/// Traps (libFuzzer's signal that it found a crash) unless the parser returned or threw a VAEError.
func check(_ target: String, _ bytes: [UInt8], _ source: String) {
    if let error = FuzzTargets.unexpectedError(target, bytes) { fatalError("\(target) on \(source): not a VAEError: \(error)") }
}

#if FUZZING
/// libFuzzer's entry point for a program with a main of its own (LLVM 11 and later).
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzer(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
               _ input: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

/// The parser under test; read once, since libFuzzer calls the entry point millions of times.
let target = ProcessInfo.processInfo.environment["VAE_FUZZ_TARGET"] ?? ""

/// libFuzzer's name for the function it calls with each input (its archive's unused main refers to it too).
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    check(target, data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [], "libFuzzer's input")
    return 0
}

@main
struct Fuzz {
    static func main() {
        guard FuzzTargets.parsers[target] != nil else {
            print("VAE_FUZZ_TARGET must name one of \(FuzzTargets.parsers.keys.sorted().joined(separator: ", "))")
            exit(2)
        }
        var argc = CommandLine.argc, argv = CommandLine.unsafeArgv
        exit(runFuzzer(&argc, &argv, fuzzOne))
    }
}
#else
@main
struct Replay {
    static func main() throws {
        let arguments = CommandLine.arguments.dropFirst()
        guard let target = arguments.first, FuzzTargets.parsers[target] != nil, arguments.count > 1 else {
            print("usage: vae-fuzz TARGET FILE... (targets: \(FuzzTargets.parsers.keys.sorted().joined(separator: ", ")))")
            exit(2)
        }
        for path in arguments.dropFirst() {
            check(target, Array(try Data(contentsOf: URL(fileURLWithPath: path))), path)
            print("\(path): ok")
        }
    }
}
#endif
