// ImageFolder: the JPEG and PNG files under a directory, found recursively and kept in byte order of their
// relative paths, so every rank and every run numbers them the same; with each file's size and modification
// time, which key the decoded cache.

import Crypto
import Foundation
import VAESupport

public struct ImageFolder: Sendable {
    public struct File: Sendable, Equatable {
        /// Relative to the folder.
        public let name: String
        public let size: Int
        public let modified: timespec

        public static func == (a: File, b: File) -> Bool {
            a.name == b.name && a.size == b.size && a.modified.tv_sec == b.modified.tv_sec && a.modified.tv_nsec == b.modified.tv_nsec
        }
    }

    public static let extensions: Set<String> = ["jpg", "jpeg", "png"]

    public let path: String
    public let files: [File]

    /// Lists `path`; `limit` > 0 keeps only the first `limit` files.
    public init(path: String, limit: Int = 0) throws {
        // The folder itself may be a symbolic link (a data set linked into place); links below it are not
        // followed, as Keras's flow_from_directory does not by default.
        let resolved = (path as NSString).resolvingSymlinksInPath
        guard let walker = FileManager.default.enumerator(atPath: resolved) else { throw VAEError("\(path): cannot list the folder") }
        var names: [String] = []
        while let name = walker.nextObject() as? String {
            if Self.extensions.contains((name as NSString).pathExtension.lowercased()) { names.append(name) }
        }
        names.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        if limit > 0 { names = Array(names.prefix(limit)) }
        var files: [File] = []
        files.reserveCapacity(names.count)
        for name in names {
            var info = stat()
            guard stat(path + "/" + name, &info) == 0 else {
                throw VAEError("\(path)/\(name): cannot read the file's size (\(String(cString: strerror(errno))))")
            }
            guard info.st_mode & S_IFMT == S_IFREG else { continue }
            files.append(File(name: name, size: Int(info.st_size), modified: info.st_mtim))
        }
        guard !files.isEmpty else { throw VAEError("\(path): no .jpg, .jpeg or .png files in the folder or below it") }
        self.path = path
        self.files = files
    }

    public func path(of index: Int) -> String { path + "/" + files[index].name }

    /// The files (names, sizes, modification times) and how they become images: what a cache must match.
    public func cacheKey(imageShape: [Int], resize: String) -> String {
        var hash = SHA256()
        hash.update(data: Array("vae image cache 1 \(imageShape) \(resize)\n".utf8))
        for file in files {
            hash.update(data: Array("\(file.name)\0\(file.size) \(file.modified.tv_sec).\(file.modified.tv_nsec)\n".utf8))
        }
        return hash.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
