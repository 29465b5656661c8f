// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "swift-vae",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "vae", targets: ["vae"]),
        .library(name: "VAEMath", targets: ["VAEMath"]),
        .library(name: "VAETraining", targets: ["VAETraining"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // System libraries from Debian; pkg-config finds their headers and libraries.
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg", providers: [.apt(["libturbojpeg0-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        // oneDNN ships no pkg-config file on Debian; its header and library are in the default paths.
        .systemLibrary(name: "CDNNL", providers: [.apt(["libdnnl-dev"])]),
        .systemLibrary(name: "COpenMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
        // The only code that includes mpi.h: plain C functions over MPI_COMM_WORLD.
        .target(name: "CMPIShim", dependencies: ["COpenMPI"]),

        // The rooms, lowest first; each imports only rooms above it in this list.
        // What every room shares: errors for people, the durable file write, the clock, shape formatting, JSON,
        // the metrics record.
        .target(name: "VAESupport"),
        // The math's loops in C, compiled for several instruction sets, the CPU's best chosen at load time; optimized
        // in debug builds too, so that the tests check the vectorized loops a release build runs. No errno from
        // sqrtf, so that its loops vectorize: sqrt is correctly rounded either way.
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O2", "-fno-math-errno"])]),
        // The math: tensors, kernels, layers, the VAE, loss, Adam, learning-rate schedules, random numbers, the options
        // of the gradient sum. No MPI, no files, no environment.
        .target(name: "VAEMath", dependencies: ["CBLAS", "CDNNL", "CKernels"]),
        // The communicator: a protocol, with MPI (over the shim) and single-process implementations.
        .target(name: "VAECommunication", dependencies: ["CMPIShim", "VAEMath"]),
        // Data: IDX files and image folders (JPEG and PNG decoding and encoding, resizing, the decoded cache), image
        // data sets, CelebA's attributes, the epoch sampler.
        .target(name: "VAEData", dependencies: [
            "VAEMath", "VAESupport", "CZlib", "CTurboJPEG", "CPNG", .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // The run's settings: each declared once; YAML with --set overrides, validated; `vae config`, state.json's copy
        // and docs/config.md come from the declarations.
        .target(name: "VAEConfig", dependencies: ["VAEMath", "VAEData", "VAESupport", .product(name: "Yams", package: "Yams")]),
        // Checkpoints: safetensors, model weights by name, checkpoint write/read/verify/restore.
        .target(name: "VAECheckpoint", dependencies: [
            "VAEMath", "VAESupport", "VAEConfig", .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // What a model shows: inference in batches, evaluation, the test set, plots, sample grids, the sample writer,
        // report.html.
        .target(name: "VAEReport", dependencies: ["VAEMath", "VAESupport", "VAEConfig", "VAEData", "VAECheckpoint"]),
        // Training: the loop, its cadence, the step's exchange and gradient reduction, rank 0's writers, metrics.
        .target(name: "VAETraining", dependencies: [
            "VAEMath", "VAECommunication", "VAESupport", "VAEConfig", "VAEData", "VAECheckpoint",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // The thin CLI: its commands as a library, and `vae`, the binary that runs them.
        .target(name: "VAECommandLine", dependencies: [
            "VAETraining", "VAEReport", "VAECheckpoint", "VAEData", "VAEConfig", "VAESupport", "VAECommunication", "VAEMath",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "vae", dependencies: ["VAECommandLine"]),
        // Tests only: `vae` with faults on cue (a failing allreduce, a NaN gradient, a nudged weight, a hang, a signal,
        // slow steps or pictures), for the failure-handling tests under mpirun.
        .executableTarget(name: "vae-fault-injection", dependencies: ["VAECommandLine", "VAECommunication", "VAETraining", "TestSupport"],
                          path: "Tests/FaultInjection"),

        // Fuzzing: the parsers of user files as functions of bytes, and `vae-fuzz`, their libFuzzer harness (launch/testing/fuzz.sh).
        .target(name: "FuzzTargets", dependencies: ["VAEData", "VAECheckpoint", "VAEConfig", "VAESupport"], path: "Fuzz/Targets"),
        .executableTarget(name: "vae-fuzz", dependencies: ["FuzzTargets"], path: "Fuzz/Harness"),

        // What the test targets share, once: the package root, the built `vae`, temporary directories, the process
        // runner, mounts, fixtures (small data sets, a trained run), image file writers, images that act on cue.
        .target(name: "TestSupport", dependencies: [
            "VAETraining", "VAEReport", "VAEConfig", "VAEData", "VAEMath", "VAESupport", "CZlib", "CTurboJPEG", "CPNG",
        ], path: "Tests/TestSupport"),
        // One test target per room. Those that run the `vae` binary depend on it so that it is built first.
        .testTarget(name: "VAEMathTests", dependencies: ["VAEMath"]),
        .testTarget(name: "VAEDataTests", dependencies: ["TestSupport", "VAEData", "VAEMath", "VAESupport", "CPNG", "CZlib", "vae"]),
        .testTarget(name: "VAEConfigTests", dependencies: ["TestSupport", "VAEConfig", "VAECheckpoint", "VAEMath", "VAESupport"]),
        .testTarget(name: "VAECheckpointTests", dependencies: ["TestSupport", "VAECheckpoint", "VAEMath", "VAESupport"]),
        .testTarget(name: "VAEReportTests", dependencies: ["TestSupport", "VAEReport", "VAEData", "VAEConfig", "VAEMath", "VAESupport", "VAETraining"]),
        .testTarget(name: "VAETrainingTests", dependencies: [
            "TestSupport", "VAETraining", "VAECheckpoint", "VAEConfig", "VAEData", "VAEMath", "VAESupport", "VAECommunication", "vae",
        ]),
        .testTarget(name: "VAECommandLineTests", dependencies: ["TestSupport", "VAEReport", "VAEData", "VAETraining", "vae"]),
        .testTarget(name: "FuzzTargetsTests", dependencies: ["TestSupport", "FuzzTargets"]),
        .testTarget(name: "MultiRankEndToEndTests", dependencies: [
            "TestSupport", "VAECheckpoint", "VAEMath", "vae", "vae-fault-injection", .product(name: "Crypto", package: "swift-crypto"),
        ]),
    ]
)
