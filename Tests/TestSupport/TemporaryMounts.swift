// Small file systems for the disk tests: tmpfs mounts of a few MB, read-only or full to the last byte, so a
// run meets ENOSPC and EROFS where a test chooses. Mounting needs root.

import Foundation

/// The tmpfs mounts of one test, unmounted together, newest first.
public final class TemporaryMounts {
    private var paths: [String] = []

    public init() {}

    /// Mounts a tmpfs of `size` (mount's spelling: "4m", "64k") at `path`, made if missing: read-only, or filled
    /// to its last byte by a file `filler` when `full`.
    public func tmpfs(at path: String, size: String = "16m", readOnly: Bool = false, full: Bool = false) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try run(["/bin/mount", "-t", "tmpfs", "-o", (readOnly ? "ro," : "") + "size=" + size, "tmpfs", path])
        paths.append(path)
        // dd stops at the first write that fails, ENOSPC, so its exit status is 1.
        if full { _ = try runProcess(["/bin/dd", "if=/dev/zero", "of=\(path)/filler", "bs=4k"]) }
    }

    /// Makes the file system at `path` read-only from now on, as a disk that fails under a run does.
    public func remountReadOnly(_ path: String) throws {
        try run(["/bin/mount", "-o", "remount,ro", path])
    }

    public func unmountAll() {
        for path in paths.reversed() { _ = try? runProcess(["/bin/umount", path]) }
        paths = []
    }

    private func run(_ command: [String]) throws {
        let outcome = try runProcess(command)
        guard outcome.status == 0 else { throw MountError(message: "\(command.joined(separator: " ")): \(outcome.stderr)") }
    }
}

struct MountError: Error {
    let message: String
}
