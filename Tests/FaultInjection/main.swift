// `vae-fault-injection`: the `vae` command line with faults on cue, so tests can see how the job meets them.
// At least one cue is required; RANK and N are integers, N 1-based:
//   VAE_FAIL_AT_ALLREDUCE=RANK:N      rank RANK's N-th allreduce throws, as a broken transport would
//   VAE_NAN_AT_STEP=RANK:N            rank RANK's gradient turns NaN in global step N
//   VAE_PERTURB_PARAMETERS=RANK:N     rank RANK's first weight moves by 0.01 before global step N
//   VAE_STALL_AT_STEP=RANK:N          rank RANK hangs in its compute of global step N, as a deadlocked library would
//   VAE_SIGNAL_AT_STEP=RANK:N:SIGNAL[:MS]
//                                     rank RANK sends itself SIGNAL (KILL, TERM or STOP) MS milliseconds (default 0)
//                                     after global step N begins, from another thread, so it lands wherever the
//                                     rank is by then: computing, in the allreduce, writing a checkpoint
//   VAE_SLOW_PICTURES=SECONDS         rank 0's pictures take SECONDS longer to write, each time
//   VAE_SLOW_STEPS=SECONDS            every step takes SECONDS longer on every rank

import Foundation
import VAECommandLine
import VAECommunication

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    exit(64)
}

let environment = ProcessInfo.processInfo.environment
let cueNames = ["VAE_FAIL_AT_ALLREDUCE", "VAE_NAN_AT_STEP", "VAE_PERTURB_PARAMETERS", "VAE_STALL_AT_STEP"]
var cues: [String: Cue] = [:]
for name in cueNames {
    guard let text = environment[name] else { continue }
    let numbers = text.split(separator: ":").compactMap { Int($0) }
    guard numbers.count == 2 else { fail("\(name)=\(text): expected RANK:N") }
    cues[name] = Cue(rank: numbers[0], at: numbers[1])
}
let signalCue = environment["VAE_SIGNAL_AT_STEP"].map { text in
    guard let cue = SignalCue(text) else { fail("VAE_SIGNAL_AT_STEP=\(text): expected RANK:N:SIGNAL[:MS], SIGNAL one of KILL, TERM, STOP") }
    return cue
}
func seconds(_ name: String) -> Double? {
    environment[name].map { text in
        guard let seconds = Double(text), seconds >= 0 else { fail("\(name)=\(text): expected a number of seconds") }
        return seconds
    }
}
let slowPictures = seconds("VAE_SLOW_PICTURES"), slowSteps = seconds("VAE_SLOW_STEPS")
guard !cues.isEmpty || signalCue != nil || slowPictures != nil || slowSteps != nil else {
    fail("one of \((cueNames + ["VAE_SIGNAL_AT_STEP", "VAE_SLOW_PICTURES", "VAE_SLOW_STEPS"]).joined(separator: ", ")) is required")
}
let failing = cues["VAE_FAIL_AT_ALLREDUCE"]
let faults = TrainerFaults(nanAt: cues["VAE_NAN_AT_STEP"], perturbAt: cues["VAE_PERTURB_PARAMETERS"], stallAt: cues["VAE_STALL_AT_STEP"],
                           signalAt: signalCue, slowPictures: slowPictures, slowSteps: slowSteps)
var customization = VAECommand.Customization()
customization.communicator = { base in failing.map { FailingCommunicator(wrapping: base, failingRank: $0.rank, failingCall: $0.at) } ?? base }
customization.trainer = faults.install
VAECommand.main(customization)
