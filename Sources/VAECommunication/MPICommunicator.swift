// MPICommunicator: the Communicator over the C shim (MPI_COMM_WORLD). MPI errors come back as return codes
// and are thrown as CommunicationError carrying MPI_Error_string; a wait past `waitLimit` is thrown naming
// the rank it waited for, where the shim knows it.

import CMPIShim
import Foundation
import VAEMath

public final class MPICommunicator: Communicator {
    public let rank: Int
    public let size: Int
    public let localRank: Int
    public let localSize: Int

    public var waitLimit: Duration? {
        didSet { vae_mpi_set_wait_limit(waitLimit.map { Double($0.components.seconds) + Double($0.components.attoseconds) * 1e-18 } ?? 0) }
    }

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

    /// Scratch buffers for what the partners send, one per reduction in flight; grown
    /// during the first steps, then reused.
    private var freeScratch: [UnsafeMutableBufferPointer<Float>] = []

    deinit {
        freeScratch.forEach { $0.deallocate() }
        vae_mpi_finalize()
    }

    public func startAllreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>, compression: AllreduceCompression,
                                  algorithm: AllreduceAlgorithm) throws -> PendingReduction {
        let scratch = takeScratch(buffer.count)
        var handle: Int32 = -1
        let count = buffer.count
        do {
            try Self.check(vae_mpi_reduction_start(buffer.baseAddress, scratch.baseAddress, Int64(count), compression.format,
                                                           algorithm.halves(floats: count, ranks: size) ? 1 : 0, &handle), "start of the allreduce of \(count) floats")
        } catch {
            freeScratch.append(scratch)
            throw error
        }
        return PendingReduction(advance: {
            var done: Int32 = 0
            try Self.check(vae_mpi_reduction_test(handle, &done), "allreduce of \(count) floats")
            return done != 0
        }, finish: { [unowned self] in
            defer { freeScratch.append(scratch) }
            try Self.check(vae_mpi_reduction_wait(handle), "allreduce of \(count) floats")
        })
    }

    private func takeScratch(_ count: Int) -> UnsafeMutableBufferPointer<Float> {
        guard let index = freeScratch.firstIndex(where: { $0.count >= count }) else { return .allocate(capacity: count) }
        return freeScratch.remove(at: index)
    }

    public var bytesSent: Int { Int(vae_mpi_bytes_sent()) }

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

    /// `what` is built only for an error: the step's calls format no text.
    private static func check(_ code: Int32, _ what: @autoclosure () -> String) throws {
        guard code != 0 else { return }
        if code == VAE_MPI_TIMED_OUT {
            let partner = vae_mpi_stalled_partner()
            throw CommunicationError((partner >= 0 ? "rank \(partner) sent nothing" : "not every rank took part") + " in the \(what())",
                                     timedOut: true)
        }
        var text = [CChar](repeating: 0, count: 512)
        vae_mpi_error_string(code, &text, Int32(text.count))
        let description = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        throw CommunicationError("MPI error in \(what()): \(description) (code \(code))")
    }
}
