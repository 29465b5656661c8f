// Communicator: what the training loop needs from its peers, and nothing more. The loop hands it flat
// buffers; it never sees MPI. `MPICommunicator` implements it over the C shim; `SingleProcessCommunicator`
// is the world of one rank, for runs without mpirun and for unit tests.

import Foundation
import VAEMath

public protocol Communicator: AnyObject {
    var rank: Int { get }
    var size: Int { get }
    /// Rank and size among the ranks on this node.
    var localRank: Int { get }
    var localSize: Int { get }
    /// How long a collective waits for its peers before it throws a CommunicationError that says whom it
    /// waited for; nil: for ever.
    var waitLimit: Duration? { get set }

    /// Starts an in-place elementwise sum over all ranks; the buffer must stay untouched until `wait()` returns.
    /// The sum is one fixed binary tree, the same bits on every rank, whatever the transport, the algorithm
    /// and however many sums are in flight: the tree `PairwiseSum` builds over the ranks' buffers in rank
    /// order, ((r0 + r1) + (r2 + r3)) … at a power-of-two count. With `compression` the tree's leaves and
    /// each of its sums are rounded to 16 bits (at one rank: the buffer is rounded).
    func startAllreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>, compression: AllreduceCompression,
                           algorithm: AllreduceAlgorithm) throws -> PendingReduction
    /// The bytes this rank's sums have sent so far (their payload); 0 in a world of one.
    var bytesSent: Int { get }
    /// Overwrites `buffer` on every rank with rank `root`'s bytes.
    func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws
    func barrier() throws
    /// Every rank's `record` (all the same length), in rank order.
    func allgather(_ record: [UInt8]) throws -> [[UInt8]]
    /// Ends every rank of the job with `code`.
    func abort(code: Int32) -> Never
}

extension Communicator {
    /// "rank 1 of 4: " before a message, or nothing in a world of one.
    public var rankLabel: String { size > 1 ? "rank \(rank) of \(size): " : "" }

    /// The sum of floats, uncompressed, by the algorithm that suits its size.
    public func startAllreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws -> PendingReduction {
        try startAllreduceSum(buffer, compression: .none, algorithm: .auto)
    }

    /// The blocking sum: start, then wait.
    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>, compression: AllreduceCompression = .none) throws {
        try startAllreduceSum(buffer, compression: compression, algorithm: .auto).wait()
    }
}

/// A started non-blocking reduction. Call `wait()` exactly once.
public struct PendingReduction {
    private let advance: () throws -> Bool
    private let finish: () throws -> Void

    /// `advance` moves the reduction on without blocking and says whether it is complete; `finish` completes it.
    public init(advance: @escaping () throws -> Bool, finish: @escaping () throws -> Void) {
        self.advance = advance
        self.finish = finish
    }

    /// A reduction with nothing left to do.
    public static var complete: PendingReduction { PendingReduction(advance: { true }, finish: {}) }

    /// Lets the transport make progress (MPI moves messages only inside its calls); true once complete.
    @discardableResult
    public func test() throws -> Bool { try advance() }

    public func wait() throws { try finish() }
}

/// A failed collective, with MPI's own description of the error.
public struct CommunicationError: Error, CustomStringConvertible {
    public let message: String
    /// Set when the collective gave up waiting (Communicator.waitLimit).
    public let timedOut: Bool

    public init(_ message: String, timedOut: Bool = false) {
        self.message = message
        self.timedOut = timedOut
    }

    public var description: String { message }
}

public final class SingleProcessCommunicator: Communicator {
    public init() {}

    public var rank: Int { 0 }
    public var size: Int { 1 }
    public var localRank: Int { 0 }
    public var localSize: Int { 1 }
    /// A world of one never waits.
    public var waitLimit: Duration? = nil

    /// The sum of one rank is its buffer; compressed, rounded to 16 bits as a rank's share would be before it
    /// travels, so that the step trains on 16-bit gradients at every rank count.
    public func startAllreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>, compression: AllreduceCompression,
                                  algorithm: AllreduceAlgorithm) throws -> PendingReduction {
        compression.round(buffer)
        return .complete
    }
    public var bytesSent: Int { 0 }
    public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws {}
    public func barrier() throws {}
    public func allgather(_ record: [UInt8]) throws -> [[UInt8]] { [record] }
    public func abort(code: Int32) -> Never { exit(code) }
}
