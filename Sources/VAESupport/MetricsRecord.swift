// MetricsRecord: one line of OUT/metrics.jsonl, a log interval's or an epoch's means. Training's MetricsLog
// writes the records and the report reads them back; it lives here, below both, so both can name it.
// JSON has no NaN or infinity, so a number that is not finite (a diverged run) is written as null and
// read back as NaN.

public struct MetricsRecord: Codable, Sendable {
    public enum Kind: String, Codable, Sendable {
        case interval, epoch
    }

    public var kind: Kind
    /// The global optimizer step at the end of the interval or epoch.
    public var step: Int
    /// Counted from 1.
    public var epoch: Int
    /// Means per image; `loss` weighs the KL term as the steps did.
    public var loss: Double, reconstruction: Double, kl: Double
    /// The KL term's weight at the last step of the interval or epoch (loss.beta, and its warm-up).
    public var klWeight: Float
    /// The summed gradient's global L2 norm at the interval's last step; nil in epoch records, which leave it out.
    public var gradientNorm: Double?
    /// The validation set's means per image (the KL term at its full weight), in the epoch records of the epochs
    /// that validated; nil otherwise, and the keys left out.
    public var validationLoss: Double?, validationReconstruction: Double?, validationKL: Double?
    public var learningRate: Float
    public var imagesPerSecond: Double
    /// Mean time per step in the gradient allreduce; 0 for a single process.
    public var allreduceMilliseconds: Double
    /// Seconds since the metrics log was opened.
    public var wallSeconds: Double
    /// The epoch's duration; nil in interval records, which leave the key out.
    public var epochSeconds: Double?
    /// Steps of the epoch dropped as non-finite (training.on_nonfinite: skip); nil in interval records, which
    /// leave the key out, and 0 in epoch records written before the key was.
    public var skippedSteps: Int?
    /// Seconds rank 0 waited in the epoch for its writer to finish a save before it could take the next; nil
    /// in interval records, which leave the key out, and 0 in epoch records written before the key was.
    public var saveWaitSeconds: Double?

    /// `epoch` counted from 1; the loss terms are means per image.
    public init(kind: Kind, step: Int, epoch: Int, loss: Double, reconstruction: Double, kl: Double, klWeight: Float = 1,
                gradientNorm: Double? = nil, validation: (loss: Double, reconstruction: Double, kl: Double)? = nil, learningRate: Float,
                imagesPerSecond: Double, allreduceMilliseconds: Double, wallSeconds: Double, epochSeconds: Double? = nil, skippedSteps: Int? = nil,
                saveWaitSeconds: Double? = nil) {
        (self.kind, self.step, self.epoch) = (kind, step, epoch)
        (self.loss, self.reconstruction, self.kl, self.klWeight, self.gradientNorm) = (loss, reconstruction, kl, klWeight, gradientNorm)
        (validationLoss, validationReconstruction, validationKL) = (validation?.loss, validation?.reconstruction, validation?.kl)
        (self.learningRate, self.imagesPerSecond, self.allreduceMilliseconds) = (learningRate, imagesPerSecond, allreduceMilliseconds)
        (self.wallSeconds, self.epochSeconds, self.skippedSteps) = (wallSeconds, epochSeconds, skippedSteps)
        self.saveWaitSeconds = saveWaitSeconds
    }

    enum CodingKeys: String, CodingKey {
        case kind, step, epoch, loss, reconstruction, kl
        case learningRate = "learning_rate", imagesPerSecond = "images_per_s", allreduceMilliseconds = "allreduce_ms"
        case wallSeconds = "wall_s", epochSeconds = "epoch_s", skippedSteps = "skipped_steps"
        case saveWaitSeconds = "save_wait_s", klWeight = "kl_weight", gradientNorm = "grad_norm"
        case validationLoss = "val_loss", validationReconstruction = "val_reconstruction", validationKL = "val_kl"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        try c.encode(step, forKey: .step)
        try c.encode(epoch, forKey: .epoch)
        try c.encodeNumberOrNull(loss, forKey: .loss)
        try c.encodeNumberOrNull(reconstruction, forKey: .reconstruction)
        try c.encodeNumberOrNull(kl, forKey: .kl)
        try c.encodeNumberOrNull(klWeight, forKey: .klWeight)
        if let gradientNorm { try c.encodeNumberOrNull(gradientNorm, forKey: .gradientNorm) }
        for (value, key) in [(validationLoss, CodingKeys.validationLoss), (validationReconstruction, .validationReconstruction), (validationKL, .validationKL)] {
            if let value { try c.encodeNumberOrNull(value, forKey: key) }
        }
        try c.encodeNumberOrNull(learningRate, forKey: .learningRate)
        try c.encodeNumberOrNull(imagesPerSecond, forKey: .imagesPerSecond)
        try c.encodeNumberOrNull(allreduceMilliseconds, forKey: .allreduceMilliseconds)
        try c.encodeNumberOrNull(wallSeconds, forKey: .wallSeconds)
        if let epochSeconds { try c.encodeNumberOrNull(epochSeconds, forKey: .epochSeconds) }
        try c.encodeIfPresent(skippedSteps, forKey: .skippedSteps)
        if let saveWaitSeconds { try c.encodeNumberOrNull(saveWaitSeconds, forKey: .saveWaitSeconds) }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func number<T: BinaryFloatingPoint & Decodable>(_ key: CodingKeys) throws -> T { try c.decodeIfPresent(T.self, forKey: key) ?? .nan }
        kind = try c.decode(Kind.self, forKey: .kind)
        step = try c.decode(Int.self, forKey: .step)
        epoch = try c.decode(Int.self, forKey: .epoch)
        (loss, reconstruction, kl) = (try number(.loss), try number(.reconstruction), try number(.kl))
        klWeight = try c.decodeIfPresent(Float.self, forKey: .klWeight) ?? 1  // before β, every weight was 1
        gradientNorm = try c.decodeIfPresent(Double.self, forKey: .gradientNorm)
        validationLoss = try c.decodeIfPresent(Double.self, forKey: .validationLoss)
        validationReconstruction = try c.decodeIfPresent(Double.self, forKey: .validationReconstruction)
        validationKL = try c.decodeIfPresent(Double.self, forKey: .validationKL)
        (learningRate, imagesPerSecond) = (try number(.learningRate), try number(.imagesPerSecond))
        (allreduceMilliseconds, wallSeconds) = (try number(.allreduceMilliseconds), try number(.wallSeconds))
        epochSeconds = kind == .epoch ? try number(.epochSeconds) : nil
        skippedSteps = kind == .epoch ? try c.decodeIfPresent(Int.self, forKey: .skippedSteps) ?? 0 : nil
        saveWaitSeconds = kind == .epoch ? try c.decodeIfPresent(Double.self, forKey: .saveWaitSeconds) ?? 0 : nil
    }
}
