// Communicator: what the training loop needs from its peers, and nothing more. The loop hands it flat
// buffers; it never sees MPI. `MPICommunicator` implements it over the C shim; `SingleProcessCommunicator`
// is the world of one rank, for runs without mpirun and for unit tests.

import Foundation

public protocol Communicator: AnyObject {
    var rank: Int { get }
    var size: Int { get }
    /// Rank and size among the ranks on this node.
    var localRank: Int { get }
    var localSize: Int { get }

    /// In-place elementwise sum over all ranks. With a power-of-two number of ranks the result is the complete
    /// binary tree ((r0 + r1) + (r2 + r3)) …, bit for bit, whatever the transport.
    func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws
    /// Starts an in-place sum; the buffer must stay untouched until `wait()` returns.
    func startAllreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws -> PendingReduction
    /// Overwrites `buffer` on every rank with rank `root`'s bytes.
    func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws
    func barrier() throws
    /// Every rank's `record` (all the same length), in rank order.
    func allgather(_ record: [UInt8]) throws -> [[UInt8]]
    /// Ends every rank of the job with `code`.
    func abort(code: Int32) -> Never
}

/// A started non-blocking reduction.
public struct PendingReduction {
    private let finish: () throws -> Void

    public init(_ finish: @escaping () throws -> Void) { self.finish = finish }

    public func wait() throws { try finish() }
}

/// A failed collective, with MPI's own description of the error.
public struct CommunicationError: Error, CustomStringConvertible {
    public let message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}

public final class SingleProcessCommunicator: Communicator {
    public init() {}

    public var rank: Int { 0 }
    public var size: Int { 1 }
    public var localRank: Int { 0 }
    public var localSize: Int { 1 }

    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {}
    public func startAllreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws -> PendingReduction { PendingReduction {} }
    public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws {}
    public func barrier() throws {}
    public func allgather(_ record: [UInt8]) throws -> [[UInt8]] { [record] }
    public func abort(code: Int32) -> Never { exit(code) }
}
