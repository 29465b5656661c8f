// DurableFilesTests.swift
// Exercises the crash-safe write / symlink helpers against a real temp directory.

import Foundation
import TestSupport
import Testing
@testable import VAESupport
@testable import VAETraining

struct DurableFilesTests {
    @Test func writeThenReadBack() throws {
        let dir = temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/blob.bin"
        let first = (0..<3000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try DurableFiles.write(first, to: path)
        #expect(try DurableFiles.read(path) == first)

        // Overwriting replaces the content entirely, even with something shorter.
        try DurableFiles.write([1, 2, 3], to: path)
        #expect(try DurableFiles.read(path) == [1, 2, 3])
        try DurableFiles.write([], to: path)
        #expect(try DurableFiles.read(path) == [])
        #expect(!FileManager.default.fileExists(atPath: path + ".tmp"))
    }

    @Test func replaceSymlinkTwicePointsAtSecondTarget() throws {
        let dir = temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try DurableFiles.write(Array("one".utf8), to: dir + "/step-1")
        try DurableFiles.write(Array("two".utf8), to: dir + "/step-2")
        let link = dir + "/latest"

        try DurableFiles.replaceSymlink(at: link, pointingTo: "step-1")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == "step-1")
        #expect(try DurableFiles.read(link) == Array("one".utf8))

        try DurableFiles.replaceSymlink(at: link, pointingTo: "step-2")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == "step-2")
        #expect(try DurableFiles.read(link) == Array("two".utf8))
        #expect(!FileManager.default.fileExists(atPath: link + ".tmp"))
    }

    /// A temp link left over from a crash must not block the next replacement.
    @Test func replaceSymlinkIgnoresStaleTempLink() throws {
        let dir = temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let link = dir + "/latest"
        try FileManager.default.createSymbolicLink(atPath: link + ".tmp", withDestinationPath: "garbage")
        try DurableFiles.replaceSymlink(at: link, pointingTo: "step-9")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == "step-9")
    }

    @Test func writeIntoMissingDirectoryNamesPath() throws {
        let dir = temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/no-such-dir/blob.bin"
        do {
            try DurableFiles.write([1], to: path)
            Issue.record("expected an error")
        } catch let error as VAEError {
            #expect(error.message.contains(path))
            #expect(error.message.contains("No such file or directory"))
        }
    }

    @Test func errorsNamePaths() throws {
        let dir = temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let missing = dir + "/missing"
        for action in [
            { _ = try DurableFiles.read(missing) },
            { try DurableFiles.syncDirectory(missing) },
            { try DurableFiles.replaceSymlink(at: missing + "/link", pointingTo: "t") },
        ] as [() throws -> Void] {
            do {
                try action()
                Issue.record("expected an error")
            } catch let error as VAEError {
                #expect(error.message.contains(missing))
            }
        }
    }

    @Test func createDirectoryMakesParentsAndNamesTheReason() throws {
        let dir = temporaryDirectory().path
        try DurableFiles.createDirectory(dir + "/a/b/c")
        try DurableFiles.createDirectory(dir + "/a/b")
        #expect(FileManager.default.fileExists(atPath: dir + "/a/b/c"))
        try DurableFiles.write([1], to: dir + "/file")
        #expect(expectVAEError("cannot create directory \(dir)/file", "File exists") { try DurableFiles.createDirectory(dir + "/file") } == nil)
        #expect(expectVAEError("\(dir)/file/sub", "Not a directory") { try DurableFiles.createDirectory(dir + "/file/sub") } == nil)
    }

    /// One 4 KiB page of tmpfs: the second append runs out of room part way, and is cut back off.
    @Test(mountingNeedsRoot)
    func anAppendThatFailsLeavesTheFileAsItWas() throws {
        let dir = temporaryDirectory().path, mounts = TemporaryMounts(), path = dir + "/metrics.jsonl"
        defer { mounts.unmountAll() }
        try mounts.tmpfs(at: dir, size: "4k")
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        defer { close(fd) }
        try DurableFiles.append([UInt8](repeating: 1, count: 3000), fd: fd, path: path)
        #expect(expectVAEError("cannot write \(path)", "No space left on device") {
            try DurableFiles.append([UInt8](repeating: 2, count: 2000), fd: fd, path: path)
        } == nil)
        #expect(try DurableFiles.read(path) == [UInt8](repeating: 1, count: 3000))
    }

    @Test func parentDirectory() {
        #expect(DurableFiles.parentDirectory(of: "/a/b/c") == "/a/b")
        #expect(DurableFiles.parentDirectory(of: "/c") == "/")
        #expect(DurableFiles.parentDirectory(of: "c") == ".")
        #expect(DurableFiles.parentDirectory(of: "a/c") == "a")
    }
}
