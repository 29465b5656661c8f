// `vae-fault-injection`: the `vae` command line, whose communicator on one rank fails on cue, so tests can
// see a failing rank end the whole job. VAE_FAIL_AT_ALLREDUCE=RANK:N makes rank RANK's N-th allreduce throw.

import Foundation
import VAECommandLine
import VAECommunication

let cue = ProcessInfo.processInfo.environment["VAE_FAIL_AT_ALLREDUCE"]?.split(separator: ":").compactMap { Int($0) }
guard let cue, cue.count == 2 else {
    FileHandle.standardError.write(Data("error: VAE_FAIL_AT_ALLREDUCE=RANK:N is required\n".utf8))
    exit(64)
}
Ranks.$wrapping.withValue({ FailingCommunicator(wrapping: $0, failingRank: cue[0], failingCall: cue[1]) }) {
    VAECommand.main()
}
