// DurableFiles.swift
// Crash-safe file primitives, through which every file of a run is written (checkpoints,
// pictures, report.html): a reader (or a restarted job) must see either the old file/link
// or the complete new one, never a torn write or a missing link. The recipe is write-temp,
// fsync, rename, fsync the directory. metrics.jsonl grows by appended lines instead, each whole or absent.

import Glibc

/// Durable, atomic file-system operations. Every failure is a `VAEError`
/// naming the path involved and the system's `strerror` text.
public enum DurableFiles {
    /// Reads the whole file at `path`.
    public static func read(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure("cannot open \(path) for reading") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw failure("cannot stat \(path)") }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(info.st_size))
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw failure("cannot read \(path)")
            }
            if n == 0 { return bytes }
            bytes.append(contentsOf: chunk[0..<n])
        }
    }

    /// Atomically replaces `path` with `bytes`.
    ///
    /// The data goes to `path + ".tmp"` in the same directory (so the rename
    /// cannot cross file systems), is fsynced, renamed over `path`, and then the
    /// directory is fsynced so the rename itself survives a power loss.
    /// Assumes a single writer per path: concurrent writers would share the temp name.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        let tmp = path + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure("cannot write \(path): cannot create \(tmp)") }
        do {
            try writeAll(bytes, fd: fd, path: path)
            guard fsync(fd) == 0 else { throw failure("cannot write \(path): fsync failed") }
        } catch {
            close(fd)
            unlink(tmp)
            throw error
        }
        // close() can report deferred write errors (e.g. on NFS), so it is checked.
        guard close(fd) == 0 else {
            let err = failure("cannot write \(path): close failed")
            unlink(tmp)
            throw err
        }
        guard rename(tmp, path) == 0 else {
            let err = failure("cannot write \(path): rename from \(tmp) failed")
            unlink(tmp)
            throw err
        }
        try syncDirectory(parentDirectory(of: path))
    }

    /// Appends `bytes` to the open file `fd` (`path`), all or nothing: a failed write (a full disk) cuts the file
    /// back to its old length, so no torn line is left for the next append to run on from. Not fsynced.
    public static func append(_ bytes: [UInt8], fd: Int32, path: String) throws {
        let end = lseek(fd, 0, SEEK_END)
        guard end >= 0 else { throw failure("cannot write \(path): seek failed") }
        do { try writeAll(bytes, fd: fd, path: path) } catch {
            _ = ftruncate(fd, end)
            throw error
        }
    }

    /// Makes the directory `path` and any missing parents, as `mkdir -p` does; unlike Foundation's, its error
    /// names the system's reason ("Read-only file system").
    public static func createDirectory(_ path: String) throws {
        guard mkdir(path, 0o755) != 0 else { return }
        var reason = errno
        let parent = parentDirectory(of: path)
        if reason == ENOENT && parent != path {
            try createDirectory(parent)
            guard mkdir(path, 0o755) != 0 else { return }
            reason = errno
        }
        var info = stat()
        if reason == EEXIST && stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR { return }
        errno = reason
        throw failure("cannot create directory \(path)")
    }

    /// Flushes the directory entry table of `path` to stable storage, making
    /// earlier creates, renames and unlinks inside it durable.
    public static func syncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw failure("cannot open directory \(path)") }
        defer { close(fd) }
        // Some file systems cannot fsync directories and say EINVAL; there is nothing more to do there.
        guard fsync(fd) == 0 || errno == EINVAL else { throw failure("cannot fsync directory \(path)") }
    }

    /// Makes `path` a symbolic link to `target`, atomically replacing any existing link.
    ///
    /// The link is created under a temporary name and renamed over `path`, so a
    /// concurrent reader resolves either the old or the new target, never nothing.
    public static func replaceSymlink(at path: String, pointingTo target: String) throws {
        let tmp = path + ".tmp"
        // A temp link left behind by a crash would make symlink() fail with EEXIST.
        if unlink(tmp) != 0 && errno != ENOENT {
            throw failure("cannot replace link \(path): cannot remove stale \(tmp)")
        }
        guard symlink(target, tmp) == 0 else {
            throw failure("cannot replace link \(path): cannot create \(tmp) -> \(target)")
        }
        guard rename(tmp, path) == 0 else {
            let err = failure("cannot replace link \(path): rename from \(tmp) failed")
            unlink(tmp)
            throw err
        }
        try syncDirectory(parentDirectory(of: path))
    }

    /// The directory containing `path`, as used for the post-rename fsync.
    static func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let parent = String(path[..<slash])
        return parent.isEmpty ? "/" : parent
    }

    /// Writes all of `bytes`, retrying short writes and EINTR.
    private static func writeAll(_ bytes: [UInt8], fd: Int32, path: String) throws {
        try bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw failure("cannot write \(path): write failed")
                }
                offset += n
            }
        }
    }

    /// Builds an error from `context` and the current `errno`; call it before anything can clobber errno.
    private static func failure(_ context: String) -> VAEError {
        VAEError("\(context): \(String(cString: strerror(errno)))")
    }
}
