// MPICommunicator: the Communicator over the C shim (MPI_COMM_WORLD). MPI errors come back as return codes
// and are thrown as CommunicationError carrying MPI_Error_string.

import CMPIShim
import Foundation

public final class MPICommunicator: Communicator {
    public let rank: Int
    public let size: Int
    public let localRank: Int
    public let localSize: Int
    /// The partner's half in recursive doubling; grown once, reused every step.
    private var scratch: [Float] = []

    /// True when this process was started by an MPI launcher (mpirun, srun with PMI/PMIx).
    public static var launchedByMPI: Bool {
        let environment = ProcessInfo.processInfo.environment
        return ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"].contains { environment[$0] != nil }
    }

    public init() throws {
        try Self.check(vae_mpi_init(), "MPI_Init")
        rank = Int(vae_mpi_rank())
        size = Int(vae_mpi_size())
        localRank = Int(vae_mpi_local_rank())
        localSize = Int(vae_mpi_local_size())
    }

    deinit { vae_mpi_finalize() }

    /// With a power-of-two size, recursive doubling: the sum is the same complete binary tree at every such
    /// size. Otherwise MPI_Allreduce, whose bracketing is MPI's choice.
    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        guard size & (size - 1) == 0 else {
            return try Self.check(vae_mpi_allreduce_sum_f32(buffer.baseAddress, Int64(buffer.count)), "allreduce of \(buffer.count) floats")
        }
        if scratch.count < buffer.count { scratch = [Float](repeating: 0, count: buffer.count) }
        let code = scratch.withUnsafeMutableBufferPointer { vae_mpi_allreduce_tree_sum_f32(buffer.baseAddress, $0.baseAddress, Int64(buffer.count)) }
        try Self.check(code, "allreduce of \(buffer.count) floats")
    }

    public func startAllreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws -> PendingReduction {
        var request: Int32 = -1
        try Self.check(vae_mpi_iallreduce_sum_f32(buffer.baseAddress, Int64(buffer.count), &request), "start of an allreduce of \(buffer.count) floats")
        return PendingReduction { try Self.check(vae_mpi_wait(request), "wait for an allreduce") }
    }

    public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws {
        try Self.check(vae_mpi_broadcast_bytes(buffer.baseAddress, Int64(buffer.count), Int32(root)), "broadcast of \(buffer.count) bytes")
    }

    public func barrier() throws { try Self.check(vae_mpi_barrier(), "barrier") }

    public func allgather(_ record: [UInt8]) throws -> [[UInt8]] {
        var all = [UInt8](repeating: 0, count: record.count * size)
        try record.withUnsafeBytes { mine in
            try all.withUnsafeMutableBytes { everyone in
                try Self.check(vae_mpi_allgather_bytes(mine.baseAddress, Int32(record.count), everyone.baseAddress), "allgather")
            }
        }
        return (0..<size).map { Array(all[($0 * record.count)..<(($0 + 1) * record.count)]) }
    }

    public func abort(code: Int32) -> Never {
        vae_mpi_abort(code)
        exit(code)
    }

    private static func check(_ code: Int32, _ what: String) throws {
        guard code != 0 else { return }
        var text = [CChar](repeating: 0, count: 512)
        vae_mpi_error_string(code, &text, Int32(text.count))
        let description = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        throw CommunicationError("MPI error in \(what): \(description) (code \(code))")
    }
}
