// `vae-fault-injection`: the `vae` command line with faults on cue, so tests can see how the job meets them.
// Each cue is RANK:N, and at least one is required:
//   VAE_FAIL_AT_ALLREDUCE    rank RANK's N-th allreduce throws, as a broken transport would
//   VAE_NAN_AT_STEP          rank RANK's gradient turns NaN in global step N (1-based)
//   VAE_PERTURB_PARAMETERS   rank RANK's first weight moves by 0.01 before global step N (1-based)

import Foundation
import VAECommandLine
import VAECommunication

let cueNames = ["VAE_FAIL_AT_ALLREDUCE", "VAE_NAN_AT_STEP", "VAE_PERTURB_PARAMETERS"]
var cues: [String: Cue] = [:]
for name in cueNames {
    guard let text = ProcessInfo.processInfo.environment[name] else { continue }
    let numbers = text.split(separator: ":").compactMap { Int($0) }
    guard numbers.count == 2 else {
        FileHandle.standardError.write(Data("error: \(name)=\(text): expected RANK:N\n".utf8))
        exit(64)
    }
    cues[name] = Cue(rank: numbers[0], at: numbers[1])
}
guard !cues.isEmpty else {
    FileHandle.standardError.write(Data("error: one of \(cueNames.joined(separator: ", ")) (=RANK:N) is required\n".utf8))
    exit(64)
}
let failing = cues["VAE_FAIL_AT_ALLREDUCE"], faults = TrainerFaults(nanAt: cues["VAE_NAN_AT_STEP"], perturbAt: cues["VAE_PERTURB_PARAMETERS"])
Ranks.$wrapping.withValue({ base in failing.map { FailingCommunicator(wrapping: base, failingRank: $0.rank, failingCall: $0.at) } ?? base }) {
    TrainerSetup.$prepare.withValue(faults.install) { VAECommand.main() }
}
