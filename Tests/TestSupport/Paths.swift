// Where the tests find things: the package root, the config the runs start from, the built `vae` binary,
// and fresh temporary directories.

import Foundation

/// The package's root directory, found from this file's place in Tests/TestSupport.
public let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// configs/fashion-mnist.yaml, the config every end-to-end run starts from.
public let defaultConfig = packageRoot.appendingPathComponent("configs/fashion-mnist.yaml").path

/// The `vae` binary built beside the test bundle (VAE_BINARY overrides).
public let vaeBinary: String = ProcessInfo.processInfo.environment["VAE_BINARY"]
    ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("vae").path

/// A new, empty directory with a unique name under the system's temporary directory. It is left in place
/// after the test, for a look at what a failed run wrote; use `.path` where a test wants a path.
public func temporaryDirectory() -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("vae-tests-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
