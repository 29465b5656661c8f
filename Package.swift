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
        // The math: tensors, kernels, layers, the VAE, loss, Adam, schedules, random numbers. No MPI, no files, no environment.
        .target(name: "VAEMath", dependencies: ["CBLAS", "CDNNL", "CKernels"]),
        // Its loops in C, compiled for several instruction sets, the CPU's best chosen at load time; optimized
        // in debug builds too, so that the tests check the vectorized loops a release build runs. No errno from
        // sqrtf, so that its loops vectorize: sqrt is correctly rounded either way.
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O2", "-fno-math-errno"])]),
        // The communicator: a protocol, with MPI (over the shim) and single-process implementations.
        .target(name: "VAECommunication", dependencies: ["CMPIShim"]),
        // What every room shares: errors for people, the durable file write, the clock, shape formatting.
        .target(name: "VAESupport"),
        // The run's settings: YAML with --set overrides, validated, every default written once.
        .target(name: "VAEConfig", dependencies: ["VAEMath", "VAECommunication", "VAESupport", .product(name: "Yams", package: "Yams")]),
        // Data: IDX files and image folders (JPEG and PNG decoding, resizing, the decoded cache), image data sets,
        // the test set and its labels, CelebA's attributes, the epoch sampler.
        .target(name: "VAEData", dependencies: [
            "VAEMath", "VAESupport", "VAEConfig", "CZlib", "CTurboJPEG", "CPNG", .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // Checkpoints: safetensors, model weights by name, checkpoint write/read/verify/restore.
        .target(name: "VAECheckpoint", dependencies: [
            "VAEMath", "VAESupport", "VAEConfig", .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // What a model shows: inference in batches, evaluation, PNG, plots, sample grids, the sample writer, report.html.
        .target(name: "VAEReport", dependencies: ["VAEMath", "VAESupport", "VAEConfig", "VAEData", "VAECheckpoint", "CZlib"]),
        // Training: the loop, its schedule, the step's exchange and gradient reduction, metrics.
        .target(name: "VAETraining", dependencies: [
            "VAEMath", "VAECommunication", "VAESupport", "VAEConfig", "VAEData", "VAECheckpoint", "VAEReport",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // The thin CLI: its commands as a library, and `vae`, the binary that runs them.
        .target(name: "VAECommandLine", dependencies: [
            "VAETraining", "VAEReport", "VAECheckpoint", "VAEData", "VAEConfig", "VAESupport", "VAECommunication", "VAEMath",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "vae", dependencies: ["VAECommandLine"]),
        // Tests only: `vae` with faults on cue (a failing allreduce, a NaN gradient, a nudged weight), for the
        // failure-handling tests under mpirun.
        .executableTarget(name: "vae-fault-injection", dependencies: ["VAECommandLine", "VAECommunication", "VAETraining"],
                          path: "Tests/FaultInjection"),

        // Fuzzing: the parsers of user files as functions of bytes, and `vae-fuzz`, their libFuzzer harness (launch/fuzz.sh).
        .target(name: "FuzzTargets", dependencies: ["VAEData", "VAECheckpoint", "VAEConfig", "VAESupport"], path: "Fuzz/Targets"),
        .executableTarget(name: "vae-fuzz", dependencies: ["FuzzTargets"], path: "Fuzz/Harness"),

        // What the test targets share: the package root, the built `vae`, temporary directories, the process runner.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        // The test targets that run the `vae` binary depend on it so that it is built first.
        .testTarget(name: "VAEMathTests", dependencies: ["VAEMath"]),
        .testTarget(name: "VAETrainingTests", dependencies: [
            "TestSupport", "VAETraining", "VAEReport", "VAECheckpoint", "VAEData", "VAEConfig", "VAESupport", "VAECommunication", "VAEMath",
            "CZlib", "CTurboJPEG", "CPNG", "FuzzTargets", "vae",
        ]),
        .testTarget(name: "MultiRankEndToEndTests", dependencies: ["TestSupport", "VAECheckpoint", "vae", "vae-fault-injection"]),
    ]
)
