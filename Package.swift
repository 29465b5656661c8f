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
    ],
    targets: [
        // System libraries from Debian; pkg-config finds their headers and libraries.
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // oneDNN ships no pkg-config file on Debian; its header and library are in the default paths.
        .systemLibrary(name: "CDNNL", providers: [.apt(["libdnnl-dev"])]),
        .systemLibrary(name: "COpenMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
        // The only code that includes mpi.h: plain C functions over MPI_COMM_WORLD.
        .target(name: "CMPIShim", dependencies: ["COpenMPI"]),

        // The math: tensors, kernels, layers, the VAE, loss, Adam, schedules, random numbers. No MPI, no files.
        .target(name: "VAEMath", dependencies: ["CBLAS", "CDNNL"]),
        // The communicator: a protocol, with MPI (over the shim) and single-process implementations.
        .target(name: "VAECommunication", dependencies: ["CMPIShim"]),
        // Training: config, data sets, sampler, loop, metrics.
        .target(name: "VAETraining", dependencies: [
            "VAEMath", "VAECommunication", "CZlib",
            .product(name: "Yams", package: "Yams"),
        ]),
        // The thin CLI.
        .executableTarget(name: "vae", dependencies: [
            "VAETraining", "CBLAS",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "VAEMathTests", dependencies: ["VAEMath"]),
        .testTarget(name: "VAETrainingTests", dependencies: ["VAETraining", "vae", "CZlib"]),
        .testTarget(name: "VAECommunicationTests", dependencies: ["VAECommunication", "VAETraining", "vae"]),
    ]
)
