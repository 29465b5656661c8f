// Cadence: when, after a step, the loop logs, checks that the ranks agree, writes a checkpoint and
// draws samples. Plain arithmetic on the number of steps done, so a resumed run meets every event an
// uninterrupted one meets from there on.

import VAEConfig

struct Cadence {
    let stepsPerEpoch: Int
    let epochs: Int
    let logEverySteps: Int
    let checkpointEverySteps: Int
    let checkpointEveryEpochs: Int
    let samplesEveryEpochs: Int
    let validateEveryEpochs: Int
    let checkWeightsEverySteps: Int

    init(_ config: TrainingConfig, stepsPerEpoch: Int) {
        self.stepsPerEpoch = stepsPerEpoch
        epochs = config.training.epochs
        logEverySteps = config.training.logEverySteps
        checkpointEverySteps = config.checkpoint.everySteps
        checkpointEveryEpochs = config.checkpoint.everyEpochs
        samplesEveryEpochs = config.samples.everyEpochs
        validateEveryEpochs = config.validation.everyEpochs
        checkWeightsEverySteps = config.watchdog.checkEverySteps
    }

    var totalSteps: Int { epochs * stepsPerEpoch }

    /// The epoch that global step `step` (0-based) belongs to, and its place in it.
    func epoch(of step: Int) -> (epoch: Int, stepInEpoch: Int) { (step / stepsPerEpoch, step % stepsPerEpoch) }

    func endsEpoch(_ done: Int) -> Bool { done % stepsPerEpoch == 0 }

    /// A metrics record (and, off a terminal, a progress line) every `log_every_steps` steps of an epoch.
    func logs(after done: Int) -> Bool {
        logEverySteps > 0 && ((done - 1) % stepsPerEpoch + 1) % logEverySteps == 0
    }

    /// Every `watchdog.check_every_steps` steps, the ranks compare a hash of their weights.
    func checksWeights(after done: Int) -> Bool { checkWeightsEverySteps > 0 && done % checkWeightsEverySteps == 0 }

    /// Every `checkpoint.every_steps` steps, every `checkpoint.every_epochs` epochs, and at the end.
    func checkpoints(after done: Int) -> Bool {
        if checkpointEverySteps > 0 && done % checkpointEverySteps == 0 { return true }
        guard endsEpoch(done) else { return false }
        return done == totalSteps || (checkpointEveryEpochs > 0 && (done / stepsPerEpoch) % checkpointEveryEpochs == 0)
    }

    /// Every `samples.every_epochs` epochs, and at the end.
    func samples(after done: Int) -> Bool {
        guard endsEpoch(done) else { return false }
        return done == totalSteps || (samplesEveryEpochs > 0 && (done / stepsPerEpoch) % samplesEveryEpochs == 0)
    }

    /// Every `validation.every_epochs` epochs, and at the end.
    func validates(after done: Int) -> Bool {
        endsEpoch(done) && (done == totalSteps || (done / stepsPerEpoch) % validateEveryEpochs == 0)
    }
}
