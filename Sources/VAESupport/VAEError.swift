// Errors meant for people: one line saying what went wrong and where. The CLI prints `message` and exits 2.

public struct VAEError: Error, CustomStringConvertible, Equatable {
    public let message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
