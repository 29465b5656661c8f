// A communicator that passes every call to the one it wraps, except that on `failingRank` the
// `failingCall`-th allreduce throws, as a broken transport or a bug would.

import VAECommunication
import VAEMath

final class FailingCommunicator: Communicator {
    private let base: Communicator
    private let failingRank: Int
    private let failingCall: Int
    private var calls = 0

    init(wrapping base: Communicator, failingRank: Int, failingCall: Int) {
        self.base = base
        self.failingRank = failingRank
        self.failingCall = failingCall
    }

    var rank: Int { base.rank }
    var size: Int { base.size }
    var localRank: Int { base.localRank }
    var localSize: Int { base.localSize }
    var waitLimit: Duration? {
        get { base.waitLimit }
        set { base.waitLimit = newValue }
    }

    func startAllreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>, compression: AllreduceCompression,
                           algorithm: AllreduceAlgorithm) throws -> PendingReduction {
        if rank == failingRank {
            calls += 1
            if calls == failingCall { throw CommunicationError("injected failure in allreduce \(calls) (VAE_FAIL_AT_ALLREDUCE)") }
        }
        return try base.startAllreduceSum(buffer, compression: compression, algorithm: algorithm)
    }

    var bytesSent: Int { base.bytesSent }
    func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws { try base.broadcast(buffer, root: root) }
    func barrier() throws { try base.barrier() }
    func allgather(_ record: [UInt8]) throws -> [[UInt8]] { try base.allgather(record) }
    func abort(code: Int32) -> Never { base.abort(code: code) }
}
