// Small helpers every room uses: elapsed seconds on the monotonic clock, and how a shape is written.

extension ContinuousClock.Instant {
    /// Seconds from this instant to now.
    public var secondsElapsed: Double { duration(to: .now).seconds }
}

extension Duration {
    public var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}

/// `[28, 28, 1]` as `28×28×1`.
public func formatShape(_ shape: [Int]) -> String { shape.map(String.init).joined(separator: "×") }
